namespace LoraRecipes.Tests.IO.Onnx;

/// <summary>
/// A small BERT encoder graph laid out as torch.onnx exports one: HF-named embeddings, LayerNorms and biases;
/// anonymous MatMul weights stored (in, out) followed by the Add of their named bias; the query reshaped to
/// (batch, seq, heads, head_dim); Erf-gelu; a Gemm pooler with transB. It is a structural fixture: the importer
/// reads structure and weights, so the dataflow between blocks is kept simple. Weights are distinct, known values.
/// </summary>
internal sealed class TinyBertOnnx
{
    public const int V = 20, H = 8, Heads = 2, I = 16, P = 10, Layers = 2;

    /// <summary>The (in, out) matrix stored for each HF linear weight, by HF name.</summary>
    public Dictionary<string, (int In, int Out, float[] Stored)> Linears { get; } = [];

    /// <summary>Every HF-named tensor's values.</summary>
    public Dictionary<string, float[]> Named { get; } = [];

    private readonly List<byte[]> _nodes = [];
    private readonly List<byte[]> _initializers = [];
    private int _next;
    private float _seed;

    /// <summary>Changes applied while building (the hostile variants).</summary>
    public Func<string, string>? RenameOp { get; init; }
    public bool DropQueryBias { get; init; }
    public bool ExternalWordEmbeddings { get; init; }
    public int QueryOutFeatures { get; init; } = H;

    /// <summary>
    /// Linear weights kept under their HF names, (out, in), and fed to MatMul through a Transpose node: what an
    /// export without constant folding writes. <see cref="Linears"/> then holds the (out, in) matrix as stored.
    /// </summary>
    public bool NamedTransposedWeights { get; init; }

    private float[] Values(long count) => Enumerable.Range(0, (int)count).Select(_ => _seed += 0.001f).ToArray();

    private string Out() => $"t{_next++}";

    private void Node(string op, string[] inputs, string[] outputs, params byte[][] attributes) =>
        _nodes.Add(OnnxBytes.Node($"{RenameOp?.Invoke(op) ?? op}_{_nodes.Count}", RenameOp?.Invoke(op) ?? op, inputs, outputs, attributes));

    private string NamedTensor(string name, params long[] dims)
    {
        var values = Values(dims.Aggregate(1L, (a, b) => a * b));
        Named[name] = values;
        byte[] tensor = OnnxBytes.Tensor(name, dims, values, raw: Named.Count % 2 == 0);   // both raw_data and float_data
        if (ExternalWordEmbeddings && name == "embeddings.word_embeddings.weight")
            tensor = [.. tensor, .. Proto.Int(14, 1), .. Proto.Msg(13, Proto.Str(1, "location"), Proto.Str(2, "weights.bin"))];
        _initializers.Add(tensor);
        return name;
    }

    private string Linear(string x, string hfName, int inF, int outF)
    {
        var stored = Values((long)inF * outF);
        string weight = $"onnx::MatMul_{_next++}";
        if (NamedTransposedWeights)
        {
            _initializers.Add(OnnxBytes.Tensor(hfName + ".weight", [outF, inF], stored));
            Node("Transpose", [hfName + ".weight"], [weight], [.. Proto.Str(1, "perm"), .. Proto.PackedInts(8, [1, 0]), .. Proto.Int(20, 7)]);
        }
        else _initializers.Add(OnnxBytes.Tensor(weight, [inF, outF], stored));
        Linears[hfName + ".weight"] = (inF, outF, stored);
        string product = Out();
        Node("MatMul", [x, weight], [product]);
        if (DropQueryBias && hfName.EndsWith("query", StringComparison.Ordinal)) return product;
        string bias = NamedTensor(hfName + ".bias", outF);
        string y = Out();
        Node("Add", [bias, product], [y]);
        return y;
    }

    private string LayerNorm(string x, string hfName)
    {
        string y = Out();
        Node("LayerNormalization", [x, NamedTensor(hfName + ".weight", H), NamedTensor(hfName + ".bias", H)], [y], OnnxBytes.FloatAttr("epsilon", 1e-12f), OnnxBytes.IntAttr("axis", -1));
        return y;
    }

    public byte[] Build()
    {
        string word = Out(), position = Out(), sum = Out();
        Node("Gather", [NamedTensor("embeddings.word_embeddings.weight", V, H), "input_ids"], [word]);
        Node("Gather", [NamedTensor("embeddings.position_embeddings.weight", P, H), "position_ids"], [position]);
        NamedTensor("embeddings.token_type_embeddings.weight", 2, H);
        Node("Add", [word, position], [sum]);
        string h = LayerNorm(sum, "embeddings.LayerNorm");
        _initializers.Add(OnnxBytes.Int64Tensor("heads_shape", [0, 0, Heads, H / Heads]));
        for (int l = 0; l < Layers; l++)
        {
            string p = $"encoder.layer.{l}.";
            string q = Linear(h, p + "attention.self.query", H, l == 0 ? QueryOutFeatures : H);
            string split = Out();
            Node("Reshape", [q, "heads_shape"], [split]);
            Linear(h, p + "attention.self.key", H, H);
            Linear(h, p + "attention.self.value", H, H);
            string attended = Linear(q, p + "attention.output.dense", H, H);
            string a = LayerNorm(attended, p + "attention.output.LayerNorm");
            string inner = Linear(a, p + "intermediate.dense", H, I);
            string scaled = Out(), erf = Out();
            Node("Div", [inner, "sqrt2"], [scaled]);
            Node("Erf", [scaled], [erf]);
            string down = Linear(erf, p + "output.dense", I, H);
            h = LayerNorm(down, p + "output.LayerNorm");
        }
        string first = Out(), pooled = Out();
        Node("Gather", [h, "zero"], [first], OnnxBytes.IntAttr("axis", 1));
        Node("Gemm", [first, NamedTensor("pooler.dense.weight", H, H), NamedTensor("pooler.dense.bias", H)], [pooled], OnnxBytes.IntAttr("transB", 1));
        Node("Tanh", [pooled], ["pooler_output"]);
        byte[] graph =
        [
            .. _nodes.SelectMany(n => Proto.Bytes(1, n)), .. Proto.Str(2, "tiny-bert"),
            .. _initializers.SelectMany(t => Proto.Bytes(5, t)),
            .. Proto.Bytes(11, OnnxBytes.Value("input_ids", 7)), .. Proto.Bytes(11, OnnxBytes.Value("attention_mask", 7)),
            .. Proto.Bytes(12, OnnxBytes.Value(h, 1)),
        ];
        return OnnxBytes.Model(graph);
    }
}
