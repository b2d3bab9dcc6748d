using System.Globalization;
using System.Text.RegularExpressions;
using LoraRecipes.IO.Onnx;

namespace LoraRecipes.Models.Onnx;

/// <summary>A BERT encoder recovered from an ONNX graph: HF config, HF-named weights (row-major, HF layout) and notes.</summary>
/// <param name="Config">The inferred config.json (model_type bert).</param>
/// <param name="Tensors">HF name → (shape, values); linear weights are <c>(out, in)</c> as <c>nn.Linear</c> holds them.</param>
/// <param name="Notes">What was inferred rather than read (defaults taken, heads dropped), for the user.</param>
public sealed record ImportedBert(ModelConfig Config, IReadOnlyDictionary<string, (long[] Shape, float[] Values)> Tensors, IReadOnlyList<string> Notes);

/// <summary>
/// Recovers a Hugging Face BERT checkpoint from a BERT-family ONNX graph as torch.onnx and Optimum export it.
/// </summary>
/// <remarks>
/// Those exports keep the HF names of embeddings, LayerNorms and biases, but every <c>nn.Linear</c> weight is folded
/// into an anonymous <c>MatMul</c> initializer stored transposed, <c>(in, out)</c>, because the graph computes
/// <c>x @ Wᵀ</c>. The <c>Add</c> that consumes the MatMul output adds the bias, whose name says which linear it was:
/// <c>encoder.layer.0.attention.self.query.bias</c> ⇒ the MatMul's initializer, transposed back to <c>(out, in)</c>, is
/// <c>encoder.layer.0.attention.self.query.weight</c>. A <c>Gemm</c> (the pooler) names its weight and carries
/// <c>transB</c>. The config comes from the shapes (vocab, hidden, layers, intermediate, positions), the attention
/// <c>Reshape</c> to (batch, seq, heads, head_dim) (heads), the LayerNorm pattern's epsilon and the MLP's activation;
/// then every weight is checked against the shapes that config implies. Anything else is an error naming the node.
/// </remarks>
public static class BertGraph
{
    /// <summary>The operators a BERT encoder export uses (standard ONNX domain only).</summary>
    public static IReadOnlySet<string> KnownOps { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Neg", "Reciprocal", "ReduceMean", "LayerNormalization", "MatMul", "Gemm",
        "Reshape", "Transpose", "Softmax", "Erf", "Tanh", "Gelu", "Relu", "Shape", "Constant", "ConstantOfShape", "Unsqueeze",
        "Squeeze", "Concat", "Slice", "Cast", "Where", "Equal", "Not", "Less", "Greater", "Expand", "Range", "Identity",
        "Gather", "Min", "Max", "Dropout",
    };

    private static readonly Regex LayerName = new(@"^encoder\.layer\.(\d+)\.", RegexOptions.CultureInvariant);

    /// <summary>The weights one BERT layer holds, relative to <c>encoder.layer.N.</c>, with their shape given H and I.</summary>
    private static IEnumerable<(string Name, long[] Shape)> LayerTensors(long h, long i) =>
    [
        ("attention.self.query.weight", [h, h]), ("attention.self.query.bias", [h]),
        ("attention.self.key.weight", [h, h]), ("attention.self.key.bias", [h]),
        ("attention.self.value.weight", [h, h]), ("attention.self.value.bias", [h]),
        ("attention.output.dense.weight", [h, h]), ("attention.output.dense.bias", [h]),
        ("attention.output.LayerNorm.weight", [h]), ("attention.output.LayerNorm.bias", [h]),
        ("intermediate.dense.weight", [i, h]), ("intermediate.dense.bias", [i]),
        ("output.dense.weight", [h, i]), ("output.dense.bias", [h]),
        ("output.LayerNorm.weight", [h]), ("output.LayerNorm.bias", [h]),
    ];

    /// <summary>Recovers the HF weights and config of <paramref name="model"/>; <paramref name="file"/> names it in errors.</summary>
    public static ImportedBert Import(OnnxModel model, string file)
    {
        var g = new GraphIndex(model.Graph, file);
        foreach (var node in model.Graph.Nodes)
        {
            if (node.Domain.Length > 0 || !KnownOps.Contains(node.OpType))
                throw new OnnxFormatException(file, $"operator {(node.Domain.Length > 0 ? node.Domain + "." : "")}{node.OpType} is not part of a BERT encoder as torch.onnx or Optimum export it (an ONNX Runtime-optimised graph fuses operators; import the unoptimised export).", node: node.Describe());
        }
        if (!model.Graph.Inputs.Any(i => i.Name == "input_ids"))
            throw new OnnxFormatException(file, $"the graph has no 'input_ids' input (inputs: {string.Join(", ", model.Graph.Inputs.Select(i => i.Name))}); this is not a BERT encoder export.");

        var notes = new List<string>();
        var tensors = RecoverWeights(g, file);
        var config = InferConfig(g, tensors, file, notes);
        Check(config, tensors, file);
        return new ImportedBert(config, tensors, notes);
    }

    /// <summary>HF name without the <c>bert.</c> prefix that a <c>BertFor*</c> export carries.</summary>
    internal static string? HfName(string name)
    {
        string bare = name.StartsWith("bert.", StringComparison.Ordinal) ? name["bert.".Length..] : name;
        return bare.StartsWith("embeddings.", StringComparison.Ordinal) || bare.StartsWith("encoder.layer.", StringComparison.Ordinal)
            || bare.StartsWith("pooler.", StringComparison.Ordinal) || bare.StartsWith("classifier.", StringComparison.Ordinal) ? bare : null;
    }

    private static Dictionary<string, (long[] Shape, float[] Values)> RecoverWeights(GraphIndex g, string file)
    {
        var tensors = new Dictionary<string, (long[], float[])>(StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        void Add(string name, long[] shape, float[] values, OnnxNode node)
        {
            if (!tensors.TryAdd(name, (shape, values)))
                throw new OnnxFormatException(file, $"two operators claim the weight '{name}'; the graph does not have BERT's structure.", node: node.Describe());
        }

        foreach (var node in g.Graph.Nodes)
        {
            if (node.OpType == "MatMul" && node.Inputs.Count == 2 && LinearWeight(g, node.Inputs[1], file) is { } w)
            {
                // y = x @ W: W is (in, out) as stored, or Transpose(W') with W' the (out, in) HF weight.
                string name = w.Name is { } n ? n : BiasOf(g, node, file) is { } bias ? bias[..^"bias".Length] + "weight"
                    : throw new OnnxFormatException(file, $"MatMul by the anonymous weight '{node.Inputs[1]}' is not followed by an Add of a named bias, so the weight cannot be named.", node: node.Describe());
                bool outIn = w.ThroughTranspose;
                Add(name, outIn ? w.Shape : [w.Shape[1], w.Shape[0]], outIn ? w.Values : Transpose(w.Values, w.Shape[0], w.Shape[1]), node);
                used.Add(w.Initializer);
            }
            else if (node.OpType == "Gemm" && node.Inputs.Count >= 2 && LinearWeight(g, node.Inputs[1], file) is { } gw)
            {
                // y = alpha·A·op(B) + beta·C with op = transpose when transB = 1: then B is the (out, in) HF weight.
                if (node.Attribute("alpha") is { F: not 1f } || node.Attribute("beta") is { F: not 1f } || node.Attribute("transA") is { I: not 0 })
                    throw new OnnxFormatException(file, "Gemm with alpha/beta other than 1 or transA is not a linear layer.", node: node.Describe());
                bool outIn = gw.ThroughTranspose ^ (node.Attribute("transB")?.I == 1);
                string? biasName = node.Inputs.Count > 2 && g.Initializer(node.Inputs[2]) is { } b ? HfName(b.Name) : null;
                string name = gw.Name ?? (biasName is not null && biasName.EndsWith(".bias", StringComparison.Ordinal) ? biasName[..^"bias".Length] + "weight"
                    : throw new OnnxFormatException(file, $"Gemm by the anonymous weight '{node.Inputs[1]}' has no named bias, so the weight cannot be named.", node: node.Describe()));
                Add(name, outIn ? gw.Shape : [gw.Shape[1], gw.Shape[0]], outIn ? gw.Values : Transpose(gw.Values, gw.Shape[0], gw.Shape[1]), node);
                used.Add(gw.Initializer);
            }
        }

        foreach (var init in g.Graph.Initializers)
        {
            if (used.Contains(init.Name)) continue;
            string? name = HfName(init.Name);
            if (init.DataType != OnnxTensor.Float)
            {
                if (name is not null && name != "embeddings.position_ids")
                    throw new OnnxFormatException(file, $"initializer '{init.Name}' has data type {init.DataType}; only float32 models are imported (quantised or fp16 exports are not).", node: init.Name);
                continue;
            }
            if (name is not null)
            {
                tensors[name] = (init.Dims.ToArray(), init.ToFloats(file));
                continue;
            }
            // Anonymous float constants are scalars or shape helpers; an anonymous matrix is a weight nobody named.
            if (init.Dims.Count >= 2 && init.ElementCount > 1)
                throw new OnnxFormatException(file, $"the anonymous weight '{init.Name}' [{string.Join(", ", init.Dims)}] is not used by a MatMul/Gemm this importer understands.",
                    node: g.Consumers(init.Name).FirstOrDefault()?.Describe() ?? init.Name);
        }
        return tensors;
    }

    /// <summary>A stored weight matrix; <c>ThroughTranspose</c>: the operator sees it through a 2-D Transpose node.</summary>
    private sealed record Weight(string Initializer, string? Name, long[] Shape, float[] Values, bool ThroughTranspose);

    /// <summary>A 2-D float initializer used as a linear weight, directly or through a 2-D Transpose; null for activations.</summary>
    private static Weight? LinearWeight(GraphIndex g, string input, string file)
    {
        bool transposed = false;
        var tensor = g.Initializer(input);
        if (tensor is null && g.Producer(input) is { OpType: "Transpose" } t && t.Inputs.Count == 1 && g.Initializer(t.Inputs[0]) is { } inner)
        {
            if (t.Attribute("perm") is { } perm && !perm.Ints.SequenceEqual([1L, 0L]))
                throw new OnnxFormatException(file, $"Transpose of weight '{inner.Name}' with perm [{string.Join(", ", perm.Ints)}] is not a matrix transpose.", node: t.Describe());
            tensor = inner;
            transposed = true;
        }
        if (tensor is null || tensor.DataType != OnnxTensor.Float || tensor.Dims.Count != 2) return null;
        string? name = HfName(tensor.Name);
        if (name is not null && !name.EndsWith(".weight", StringComparison.Ordinal)) return null;
        // The layout follows from the operators, not the name: the shape check against the config catches the rest.
        return new Weight(tensor.Name, name, tensor.Dims.ToArray(), tensor.ToFloats(file), transposed);
    }

    /// <summary>The HF bias name of the single Add that consumes <paramref name="matmul"/>'s output with a named 1-D initializer.</summary>
    private static string? BiasOf(GraphIndex g, OnnxNode matmul, string file)
    {
        var biases = g.Consumers(matmul.Outputs[0]).Where(n => n.OpType == "Add")
            .SelectMany(n => n.Inputs.Select(g.Initializer).OfType<OnnxTensor>().Select(t => HfName(t.Name)))
            .OfType<string>().Where(n => n.EndsWith(".bias", StringComparison.Ordinal)).Distinct().ToList();
        return biases.Count switch
        {
            0 => null,
            1 => biases[0],
            _ => throw new OnnxFormatException(file, $"the MatMul output feeds several biases ({string.Join(", ", biases)}).", node: matmul.Describe()),
        };
    }

    private static float[] Transpose(float[] values, long rows, long cols)
    {
        var result = new float[values.Length];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++) result[c * rows + r] = values[r * cols + c];
        return result;
    }

    private static ModelConfig InferConfig(GraphIndex g, Dictionary<string, (long[] Shape, float[] Values)> tensors, string file, List<string> notes)
    {
        (long[] Shape, float[] _) Need(string name) => tensors.TryGetValue(name, out var t) ? t
            : throw new OnnxFormatException(file, $"the graph has no tensor for '{name}'; a BERT encoder export keeps it under that name.");
        var word = Need("embeddings.word_embeddings.weight").Shape;
        var positions = Need("embeddings.position_embeddings.weight").Shape;
        var types = Need("embeddings.token_type_embeddings.weight").Shape;
        if (word.Length != 2 || positions.Length != 2 || types.Length != 2 || new[] { word[0], word[1], positions[0], types[0] }.Any(d => d is < 1 or > 1 << 24))
            throw new OnnxFormatException(file, "the embedding tables must be non-empty matrices of at most 2^24 rows.", node: "embeddings");
        int hidden = checked((int)word[1]);
        var layerIds = tensors.Keys.Select(k => LayerName.Match(k)).Where(m => m.Success)
            .Select(m => int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : -1).Distinct().Order().ToList();
        if (layerIds.Count == 0 || layerIds[0] != 0 || layerIds[^1] != layerIds.Count - 1)
            throw new OnnxFormatException(file, $"encoder layers [{string.Join(", ", layerIds)}] are not numbered 0..N-1.");
        var intermediateWeight = Need("encoder.layer.0.intermediate.dense.weight").Shape;
        if (intermediateWeight.Length != 2 || intermediateWeight[0] > int.MaxValue)
            throw new OnnxFormatException(file, $"encoder.layer.0.intermediate.dense.weight has shape [{string.Join(", ", intermediateWeight)}]; a matrix was expected.", node: "encoder.layer.0.intermediate.dense.weight");
        int intermediate = (int)intermediateWeight[0];
        int heads = Heads(g, hidden, file);
        double eps = LayerNormEps(g, file) ?? Default(notes, 1e-12, "no LayerNorm epsilon found in the graph; using BERT's default 1e-12");
        string activation = Activation(g, file);
        var labels = tensors.TryGetValue("classifier.weight", out var head) ? Enumerable.Range(0, (int)head.Shape[0]).Select(i => $"LABEL_{i}").ToArray() : ClassificationLabels.Default;
        if (tensors.ContainsKey("classifier.weight")) notes.Add($"the graph carries a classification head ({labels.Count} labels); it is kept as classifier.*");
        if (!tensors.ContainsKey("pooler.dense.weight")) notes.Add("the graph has no pooler; a fresh one is drawn when the model loads for classification");
        return new ModelConfig
        {
            ModelType = "bert", VocabSize = checked((int)word[0]), HiddenSize = hidden, IntermediateSize = intermediate,
            NumHiddenLayers = layerIds.Count, NumAttentionHeads = heads, NumKeyValueHeads = heads, HeadDim = hidden / heads,
            MaxPositionEmbeddings = checked((int)positions[0]), TypeVocabSize = checked((int)types[0]), LayerNormEps = eps,
            HiddenAct = activation, PadTokenId = 0, TorchDtype = "float32", Labels = labels,
        };
    }

    private static double Default(List<string> notes, double value, string note)
    {
        notes.Add(note);
        return value;
    }

    /// <summary>Heads from the Reshape of the first query projection to (batch, seq, heads, head_dim).</summary>
    private static int Heads(GraphIndex g, int hidden, string file)
    {
        var biasAdd = g.Graph.Nodes.FirstOrDefault(n => n.OpType == "Add" && n.Inputs.Any(i => HfName(i) == "encoder.layer.0.attention.self.query.bias"))
            ?? throw new OnnxFormatException(file, "no Add of encoder.layer.0.attention.self.query.bias: cannot find the query projection to read the number of heads.");
        foreach (var reshape in g.Consumers(biasAdd.Outputs[0]).Where(n => n.OpType == "Reshape" && n.Inputs.Count == 2))
        {
            var shape = g.ShapeValues(reshape.Inputs[1]);
            if (shape is [_, _, > 0 and var nh, > 0 and var hd] && nh * hd == hidden) return (int)nh;
            throw new OnnxFormatException(file, $"the query projection is reshaped to [{(shape is null ? "?" : string.Join(", ", shape))}], not (batch, seq, heads, head_dim) with heads·head_dim = {hidden}.", node: reshape.Describe());
        }
        throw new OnnxFormatException(file, "the query projection is not reshaped into heads: cannot read the number of attention heads.", node: biasAdd.Describe());
    }

    /// <summary>
    /// LayerNorm epsilon: the <c>epsilon</c> of LayerNormalization nodes, or the constant added to the variance before
    /// <c>Sqrt</c> in the ReduceMean pattern (older opsets). Every LayerNorm must agree; null when none is found.
    /// </summary>
    private static double? LayerNormEps(GraphIndex g, string file)
    {
        var found = new List<(double Eps, OnnxNode Node)>();
        foreach (var node in g.Graph.Nodes)
        {
            if (node.OpType == "LayerNormalization") found.Add((node.Attribute("epsilon")?.F ?? 1e-5f, node));
            else if (node.OpType == "Sqrt" && g.Producer(node.Inputs[0]) is { OpType: "Add" } add
                && add.Inputs.Any(i => g.Producer(i)?.OpType == "ReduceMean")
                && add.Inputs.Select(g.ConstantValues).FirstOrDefault(v => v is [_]) is [var eps])
                found.Add((eps, add));
        }
        if (found.Count == 0) return null;
        // Stored as float32 (9.99999996e-13): the shortest float text gives back the config's 1e-12.
        var values = found.Select(f => double.Parse(((float)f.Eps).ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)).ToList();
        int odd = values.FindIndex(v => v != values[0]);
        if (odd >= 0) throw new OnnxFormatException(file, $"LayerNorm epsilons differ ({values[0]} and {values[odd]}).", node: found[odd].Node.Describe());
        return values[0];
    }

    /// <summary>The MLP activation after the first intermediate.dense: Erf ⇒ gelu, Gelu(tanh)/Tanh ⇒ gelu_new, Relu.</summary>
    private static string Activation(GraphIndex g, string file)
    {
        var biasAdd = g.Graph.Nodes.FirstOrDefault(n => n.OpType == "Add" && n.Inputs.Any(i => HfName(i) == "encoder.layer.0.intermediate.dense.bias"))
            ?? throw new OnnxFormatException(file, "no Add of encoder.layer.0.intermediate.dense.bias: cannot find the feed-forward layer.");
        var next = g.Consumers(biasAdd.Outputs[0]).ToList();
        var afterNext = next.SelectMany(n => n.Outputs.SelectMany(g.Consumers)).ToList();
        if (next.Concat(afterNext).Any(n => n.OpType == "Erf")) return "gelu";
        if (next.FirstOrDefault(n => n.OpType == "Gelu") is { } gelu) return gelu.Attribute("approximate")?.S == "tanh" ? "gelu_new" : "gelu";
        if (next.Any(n => n.OpType == "Relu")) return "relu";
        if (next.Concat(afterNext).Any(n => n.OpType == "Pow")) return "gelu_new";
        throw new OnnxFormatException(file, $"the activation after intermediate.dense ({string.Join(", ", next.Select(n => n.OpType))}) is not gelu, gelu_new or relu.", node: biasAdd.Describe());
    }

    /// <summary>Every weight present with the shape the inferred config implies, and no weight left over.</summary>
    private static void Check(ModelConfig c, Dictionary<string, (long[] Shape, float[] Values)> tensors, string file)
    {
        long h = c.HiddenSize;
        var expected = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            ["embeddings.word_embeddings.weight"] = [c.VocabSize, h],
            ["embeddings.position_embeddings.weight"] = [c.MaxPositionEmbeddings, h],
            ["embeddings.token_type_embeddings.weight"] = [c.TypeVocabSize, h],
            ["embeddings.LayerNorm.weight"] = [h],
            ["embeddings.LayerNorm.bias"] = [h],
        };
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
            foreach (var (name, shape) in LayerTensors(h, c.IntermediateSize)) expected[$"encoder.layer.{layer}.{name}"] = shape;
        var optional = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            ["pooler.dense.weight"] = [h, h], ["pooler.dense.bias"] = [h],
            ["classifier.weight"] = [c.Labels.Count, h], ["classifier.bias"] = [c.Labels.Count],
        };
        foreach (var (name, shape) in expected)
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new OnnxFormatException(file, $"the graph has no tensor for '{name}' (config inferred: {c.NumHiddenLayers} layers, hidden {h}, intermediate {c.IntermediateSize}).", node: name);
            if (!t.Shape.SequenceEqual(shape))
                throw new OnnxFormatException(file, $"'{name}' has shape [{string.Join(", ", t.Shape)}] but the inferred config implies [{string.Join(", ", shape)}].", node: name);
        }
        foreach (var (name, t) in tensors)
        {
            if (expected.ContainsKey(name)) continue;
            if (!optional.TryGetValue(name, out var shape))
                throw new OnnxFormatException(file, $"'{name}' is not a weight of a BERT encoder with the inferred config.", node: name);
            if (!t.Shape.SequenceEqual(shape))
                throw new OnnxFormatException(file, $"'{name}' has shape [{string.Join(", ", t.Shape)}] but the inferred config implies [{string.Join(", ", shape)}].", node: name);
        }
        if (tensors.ContainsKey("pooler.dense.weight") != tensors.ContainsKey("pooler.dense.bias"))
            throw new OnnxFormatException(file, "the pooler has a weight without a bias or a bias without a weight.", node: "pooler.dense");
    }
}
