using System.Globalization;
using LoraRecipes.IO.Onnx;
using LoraRecipes.Models;
using static TorchSharp.torch;
using Dim = LoraRecipes.IO.Onnx.OnnxGraphBuilder.Dim;
using Attr = LoraRecipes.IO.Onnx.OnnxGraphBuilder.Attribute;
using ElementType = LoraRecipes.IO.Onnx.OnnxGraphBuilder.ElementType;

namespace LoraRecipes.Artifacts.OnnxExport;

/// <summary>
/// The ONNX graph (opset 17) of a BERT or DistilBERT sequence classifier, op for op what
/// <see cref="BertForSequenceClassification.Classify"/> and <see cref="DistilBertForSequenceClassification.Classify"/>
/// compute at inference (no dropout): inputs <c>input_ids</c> and <c>attention_mask</c> (int64, (batch, sequence)),
/// output <c>logits</c> (float, (batch, num_labels)). Weights are initializers under their HF names and HF shapes
/// (a linear's weight stays (out, in); a Transpose node, folded by ONNX Runtime at load, feeds MatMul).
/// </summary>
internal sealed class EncoderOnnxGraph
{
    private readonly OnnxGraphBuilder _g;
    private readonly IReadOnlyDictionary<string, Tensor> _weights;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly ModelConfig _c;

    private EncoderOnnxGraph(ModelConfig config, IReadOnlyDictionary<string, Tensor> weights)
    {
        (_c, _weights) = (config, weights);
        _g = new OnnxGraphBuilder(config.ModelType + "_sequence_classification");
    }

    /// <summary>The graph for <paramref name="config"/>'s family from merged weights (HF names → CPU fp32 tensors).</summary>
    public static OnnxGraphBuilder Build(ModelConfig config, IReadOnlyDictionary<string, Tensor> weights)
    {
        var graph = new EncoderOnnxGraph(config, weights);
        graph.Classifier();
        var unused = weights.Keys.Where(k => !graph._used.Contains(k)).ToList();
        if (unused.Count > 0)   // a parameter the graph ignores would export another function than the model's
            throw new InvalidOperationException($"the ONNX graph does not use {string.Join(", ", unused.Take(5))}");
        return graph._g;
    }

    private void Classifier()
    {
        bool bert = _c.ModelType == "bert";
        string prefix = bert ? "bert." : "distilbert.";
        var batch = Dim.Dynamic("batch");
        var sequence = Dim.Dynamic("sequence");
        string ids = _g.Input("input_ids", ElementType.Int64, batch, sequence);
        string mask = _g.Input("attention_mask", ElementType.Int64, batch, sequence);

        string x = Embeddings(prefix + "embeddings", ids, tokenTypes: bert);
        var keyMask = KeyMask(mask);
        string layers = bert ? prefix + "encoder.layer." : prefix + "transformer.layer.";
        for (int i = 0; i < _c.NumHiddenLayers; i++)
            x = bert ? BertLayer(layers + i.ToString(CultureInfo.InvariantCulture), x, keyMask) : DistilBertBlock(layers + i.ToString(CultureInfo.InvariantCulture), x, keyMask);

        string cls = _g.Node("Gather", "cls", [x, _g.Constant("cls.index", [0L])], Attr.Int("axis", 1));   // (B, H): h[:, 0]
        string pooled = bert
            ? _g.Node("Tanh", "bert.pooler", [Linear(cls, "bert.pooler.dense")])          // BertPooler: tanh(dense(h[:, 0]))
            : _g.Node("Relu", "pre_classifier.relu", [Linear(cls, "pre_classifier")]);   // relu(pre_classifier(h[:, 0]))
        string logits = _g.Node("Identity", "logits", [Linear(pooled, "classifier")]);  // (B, L)
        _g.Output(logits, ElementType.Float, Dim.Dynamic("batch"), Dim.Fixed(_c.Labels.Count));
    }

    /// <summary>LayerNorm(word[ids] + position[0..T) (+ token_type[0] for BERT: every token is segment 0)) → (B, T, H).</summary>
    private string Embeddings(string module, string ids, bool tokenTypes)
    {
        string words = _g.Node("Gather", module + ".word_embeddings", [W(module + ".word_embeddings.weight"), ids]);        // (B, T, H)
        string length = _g.Node("Squeeze", "sequence_length",
            [_g.Node("Shape", "input_ids.shape1", [ids], Attr.Int("start", 1), Attr.Int("end", 2)), _g.Constant("axes0", [0L], 1)]);
        string positions = _g.Node("Range", "position_ids", [_g.Constant("zero", [0L]), length, _g.Constant("one", [1L])]);   // (T): arange(T)
        string x = _g.Node("Add", module + ".sum", [words, _g.Node("Gather", module + ".position_embeddings", [W(module + ".position_embeddings.weight"), positions])]);
        if (tokenTypes)
            x = _g.Node("Add", module + ".sum", [x, _g.Node("Gather", module + ".token_type_embeddings", [W(module + ".token_type_embeddings.weight"), _g.Constant("token_type.index", [0L])])]);
        return LayerNorm(x, module + ".LayerNorm");
    }

    /// <summary>
    /// mask (B, T) → keys (B, 1, 1, T): 0 where the token is attended (mask ≠ 0), float32's lowest value where it is
    /// padding; and any (B, 1, 1, 1): 1 when the row has a real token, else 0. Our forward hands
    /// scaled_dot_product_attention the boolean mask (−∞ there): in a row with a real token both give padding exactly
    /// 0 weight (exp underflows to 0); in an all-padding row libtorch's attention outputs 0, which <c>any</c> reproduces.
    /// </summary>
    private (string Keys, string Any) KeyMask(string mask)
    {
        string attend = _g.Node("Cast", "attention_mask.bool", [mask], Attr.Int("to", (long)ElementType.Bool));
        string additive = _g.Node("Where", "attention_mask.additive", [attend, _g.Constant("mask.keep", [0f]), _g.Constant("mask.min", [float.MinValue])]);
        string keys = _g.Node("Unsqueeze", "attention_mask.keys", [additive, _g.Constant("axes12", [1L, 2L], 2)]);
        string real = _g.Node("Cast", "attention_mask.float", [attend], Attr.Int("to", (long)ElementType.Float));
        string any = _g.Node("ReduceMax", "attention_mask.any", [real], Attr.Ints("axes", 1), Attr.Int("keepdims", 1));   // (B, 1)
        return (keys, _g.Node("Unsqueeze", "attention_mask.any_4d", [any, _g.Constant("axes23", [2L, 3L], 2)]));           // (B, 1, 1, 1)
    }

    /// <summary>BertLayer (post-norm): a = LN(attention.output.dense(attn(x)) + x); y = LN(output.dense(act(intermediate.dense(a))) + a).</summary>
    private string BertLayer(string p, string x, (string Keys, string Any) keyMask)
    {
        string context = Attention(p + ".attention.self", x, p + ".attention.self.query", p + ".attention.self.key", p + ".attention.self.value", keyMask);
        string a = LayerNorm(_g.Node("Add", p + ".attention.output.residual", [Linear(context, p + ".attention.output.dense"), x]), p + ".attention.output.LayerNorm");
        string h = Activation(Linear(a, p + ".intermediate.dense"), p + ".intermediate.act");
        return LayerNorm(_g.Node("Add", p + ".output.residual", [Linear(h, p + ".output.dense"), a]), p + ".output.LayerNorm");
    }

    /// <summary>DistilBERT's TransformerBlock: a = sa_layer_norm(out_lin(attn(x)) + x); y = output_layer_norm(lin2(act(lin1(a))) + a).</summary>
    private string DistilBertBlock(string p, string x, (string Keys, string Any) keyMask)
    {
        string attention = p + ".attention";
        string context = Attention(attention, x, attention + ".q_lin", attention + ".k_lin", attention + ".v_lin", keyMask);
        string a = LayerNorm(_g.Node("Add", p + ".sa_residual", [Linear(context, attention + ".out_lin"), x]), p + ".sa_layer_norm");
        string h = Activation(Linear(a, p + ".ffn.lin1"), p + ".ffn.act");
        return LayerNorm(_g.Node("Add", p + ".ffn_residual", [Linear(h, p + ".ffn.lin2"), a]), p + ".output_layer_norm");
    }

    /// <summary>softmax(q kᵀ / √hd + keys) v · any, over nh heads of hd = H / nh: (B, T, H) → (B, T, H), before the output projection.</summary>
    private string Attention(string name, string x, string query, string key, string value, (string Keys, string Any) keyMask)
    {
        long nh = _c.NumAttentionHeads, hd = _c.HiddenSize / _c.NumAttentionHeads;
        string split = _g.Constant(name + ".heads_shape", [0L, 0L, nh, hd], 4);   // Reshape: 0 keeps B and T
        string Heads(string projection, params long[] perm) =>
            _g.Node("Transpose", projection + ".heads", [_g.Node("Reshape", projection + ".split", [Linear(x, projection), split])], Attr.Ints("perm", perm));
        string q = Heads(query, 0, 2, 1, 3);   // (B, nh, T, hd)
        string k = Heads(key, 0, 2, 3, 1);     // (B, nh, hd, T): kᵀ
        string v = Heads(value, 0, 2, 1, 3);   // (B, nh, T, hd)
        string scores = _g.Node("Mul", name + ".scores", [_g.Node("MatMul", name + ".qk", [q, k]), _g.Constant(name + ".scale", [(float)(1.0 / Math.Sqrt(hd))])]);
        string probs = _g.Node("Softmax", name + ".probs", [_g.Node("Add", name + ".masked", [scores, keyMask.Keys])], Attr.Int("axis", -1));   // (B, nh, T, T)
        string pv = _g.Node("Mul", name + ".pv_any", [_g.Node("MatMul", name + ".pv", [probs, v]), keyMask.Any]);                          // (B, nh, T, hd)
        string context = _g.Node("Transpose", name + ".context", [pv], Attr.Ints("perm", 0, 2, 1, 3));   // (B, T, nh, hd)
        return _g.Node("Reshape", name + ".merged", [context, _g.Constant(name + ".merged_shape", [0L, 0L, _c.HiddenSize], 3)]);   // (B, T, H)
    }

    /// <summary>x Wᵀ + b for the HF module <paramref name="module"/> (W stored (out, in)).</summary>
    private string Linear(string x, string module)
    {
        string weightT = _g.Node("Transpose", module + ".weight_t", [W(module + ".weight")], Attr.Ints("perm", 1, 0));   // (in, out)
        return _g.Node("Add", module, [_g.Node("MatMul", module + ".matmul", [x, weightT]), W(module + ".bias")]);
    }

    private string LayerNorm(string x, string module) =>
        _g.Node("LayerNormalization", module, [x, W(module + ".weight"), W(module + ".bias")], Attr.Int("axis", -1), Attr.Float("epsilon", (float)_c.LayerNormEps));

    /// <summary>The config's hidden_act, written out with the same formula <see cref="Activations.Apply"/> uses.</summary>
    private string Activation(string x, string name)
    {
        switch (_c.HiddenAct)
        {
            case "gelu":   // exact: x · ½ · (1 + erf(x / √2)), as torch's gelu(approximate='none')
                string erf = _g.Node("Erf", name + ".erf", [_g.Node("Mul", name + ".scaled", [x, Scalar(name + ".sqrt1_2", (float)(1.0 / Math.Sqrt(2.0)))])]);
                return _g.Node("Mul", name, [_g.Node("Mul", name + ".half", [x, Scalar(name + ".half_c", 0.5f)]), _g.Node("Add", name + ".one_plus", [erf, Scalar(name + ".one", 1f)])]);
            case "gelu_new" or "gelu_pytorch_tanh":   // ½ · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
                string cube = _g.Node("Mul", name + ".cubic", [_g.Node("Pow", name + ".x3", [x, Scalar(name + ".three", 3f)]), Scalar(name + ".c", 0.044715f)]);
                string inner = _g.Node("Mul", name + ".inner", [_g.Node("Add", name + ".sum", [x, cube]), Scalar(name + ".sqrt2_pi", (float)Math.Sqrt(2.0 / Math.PI))]);
                string tanh = _g.Node("Add", name + ".one_plus", [_g.Node("Tanh", name + ".tanh", [inner]), Scalar(name + ".one", 1f)]);
                return _g.Node("Mul", name, [_g.Node("Mul", name + ".half", [x, Scalar(name + ".half_c", 0.5f)]), tanh]);
            case "relu":
                return _g.Node("Relu", name, [x]);
            case "silu":   // x · σ(x)
                return _g.Node("Mul", name, [x, _g.Node("Sigmoid", name + ".sigmoid", [x])]);
            default:
                throw new OnnxExportException($"hidden_act '{_c.HiddenAct}' has no ONNX export; exported activations: gelu, gelu_new, gelu_pytorch_tanh, relu, silu.");
        }
    }

    private string Scalar(string valueName, float value) => _g.Constant(valueName, [value]);

    /// <summary>The initializer for HF parameter <paramref name="parameter"/>, added on first use.</summary>
    private string W(string parameter)
    {
        if (!_weights.TryGetValue(parameter, out var tensor))
            throw new InvalidOperationException($"the model has no parameter '{parameter}' that the {_c.ModelType} ONNX graph needs");
        return _used.Add(parameter) ? _g.Initializer(parameter, tensor) : parameter;
    }
}
