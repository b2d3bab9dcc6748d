using System.Text.Json.Nodes;
using LoraRecipes.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

/// <summary>
/// config.json fields that change the forward pass (rope_scaling, sliding_window, hidden_act, attention/mlp bias) against
/// a hand-written transcription of transformers' formulas: modeling_rope_utils' _compute_*_parameters for the inverse
/// frequencies, masking_utils' sliding_window_overlay (kv &gt; q − window) and causal mask (kv ≤ q) for attention.
/// </summary>
public sealed class ConfigCoverageTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- transformers' formulas, transcribed (float64, loops, no sharing with RopeScaling) ------------------------------

    private static double[] DefaultInv(int dim, double theta)
    {
        var inv = new double[dim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0 / Math.Pow(theta, (2.0 * i) / dim);
        return inv;
    }

    /// <summary>_compute_llama3_parameters.</summary>
    private static double[] Llama3Inv(int dim, double theta, double factor, double low, double high, double old)
    {
        var inv = DefaultInv(dim, theta);
        double lowWavelen = old / low, highWavelen = old / high;
        for (int i = 0; i < inv.Length; i++)
        {
            double wavelen = 2 * Math.PI / inv[i];
            double scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
            double smooth = (old / wavelen - low) / (high - low);
            double smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
            bool medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            inv[i] = medium ? smoothed : scaled;
        }
        return inv;
    }

    /// <summary>_compute_yarn_parameters (transformers v5: factor as given, truncate default true).</summary>
    private static (double[], double) YarnInv(int dim, double theta, double factor, double original, double? attentionFactor = null)
    {
        double attention = attentionFactor ?? (factor <= 1 ? 1.0 : 0.1 * Math.Log(factor) + 1.0);
        double FindDim(double rot) => dim * Math.Log(original / (rot * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Math.Max(Math.Floor(FindDim(32)), 0), high = Math.Min(Math.Ceiling(FindDim(1)), dim - 1);
        if (low == high) high += 0.001;
        var inv = new double[dim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            double pos = Math.Pow(theta, (2.0 * i) / dim);
            double extrapolationFactor = 1 - Math.Clamp((i - low) / (high - low), 0, 1);
            inv[i] = 1.0 / (factor * pos) * (1 - extrapolationFactor) + 1.0 / pos * extrapolationFactor;
        }
        return (inv, attention);
    }

    private static void SameFrequencies(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * Math.Abs(expected[i]), $"θ_{i}: {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void InverseFrequenciesFollowTransformers()
    {
        // Llama 3.2 1B: head_dim 64, rope_theta 500000, rope_scaling {llama3, 32, 1, 4, 8192}.
        var llama3 = new RopeScaling { Type = "llama3", Factor = 32, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositions = 8192 };
        var (inv, scale) = llama3.Compute(64, 500000, 131072);
        SameFrequencies(Llama3Inv(64, 500000, 32, 1, 4, 8192), inv);
        Assert.Equal(1.0, scale);
        Assert.Contains(inv.Zip(DefaultInv(64, 500000)), p => p.First != p.Second);   // the scaling changes something

        // Qwen2.5 long context: yarn factor 4 over 32768 original positions, rope_theta 1e6, head_dim 128.
        var yarn = new RopeScaling { Type = "yarn", Factor = 4, OriginalMaxPositions = 32768 };
        var (yInv, yScale) = yarn.Compute(128, 1e6, 131072);
        var (eInv, eScale) = YarnInv(128, 1e6, 4, 32768);
        SameFrequencies(eInv, yInv);
        Assert.Equal(eScale, yScale, 12);

        var linear = new RopeScaling { Type = "linear", Factor = 2 }.Compute(32, 10000, 4096).InvFreq;
        SameFrequencies(DefaultInv(32, 10000).Select(f => f / 2).ToArray(), linear);

        // dynamic NTK: base · (factor·L/max − (factor − 1))^(d/(d−2)), L = max(seq_len, max); at L ≤ max it is the default.
        SameFrequencies(DefaultInv(32, 10000), new RopeScaling { Type = "dynamic", Factor = 2 }.Compute(32, 10000, 4096).InvFreq);
        double raised = 10000 * Math.Pow(2.0 * 8192 / 4096 - 1, 32 / 30.0);
        SameFrequencies(DefaultInv(32, raised), RopeScaling.DynamicNtk(32, 10000, 2, 4096, 8192));
    }

    // ---- whole models: config.json → weights → loss, against an independent forward ---------------------------------------

    /// <summary>A tiny Llama 3.2-shaped decoder: rope_theta 500000 with Llama 3.1/3.2's rope_scaling, GQA, tied head.</summary>
    private static JsonObject Llama32Style() => new()
    {
        ["model_type"] = "llama", ["vocab_size"] = 64, ["hidden_size"] = 32, ["intermediate_size"] = 48,
        ["num_hidden_layers"] = 2, ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2, ["head_dim"] = 16,
        ["hidden_act"] = "silu", ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 500000.0, ["max_position_embeddings"] = 131072,
        ["tie_word_embeddings"] = true, ["attention_bias"] = false, ["mlp_bias"] = false,
        ["rope_scaling"] = new JsonObject
        {
            ["rope_type"] = "llama3", ["factor"] = 32.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
            ["original_max_position_embeddings"] = 8192,
        },
    };

    /// <summary>A tiny Mistral 7B v0.1-shaped decoder: sliding_window (4 here, so a 12-token sequence crosses it), GQA, untied.</summary>
    private static JsonObject MistralStyle(int? window = 4) => new()
    {
        ["model_type"] = "mistral", ["vocab_size"] = 64, ["hidden_size"] = 32, ["intermediate_size"] = 48,
        ["num_hidden_layers"] = 2, ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2,
        ["hidden_act"] = "silu", ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 10000.0, ["max_position_embeddings"] = 512,
        ["tie_word_embeddings"] = false, ["sliding_window"] = window,
    };

    private static readonly (string Name, Func<JsonObject> Config, Func<int, double[]> Inv, double Scale, Func<int, int?> Window)[] Cases =
    [
        ("llama3", Llama32Style, hd => Llama3Inv(hd, 500000, 32, 1, 4, 8192), 1.0, _ => null),
        ("mistral-window", () => MistralStyle(), hd => DefaultInv(hd, 10000), 1.0, _ => 4),
        ("qwen2-window-top-layer", () => new JsonObject
        {
            ["model_type"] = "qwen2", ["vocab_size"] = 64, ["hidden_size"] = 32, ["intermediate_size"] = 48,
            ["num_hidden_layers"] = 2, ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2,
            ["rms_norm_eps"] = 1e-6, ["rope_theta"] = 1000000.0, ["max_position_embeddings"] = 512,
            ["use_sliding_window"] = true, ["sliding_window"] = 3, ["max_window_layers"] = 1,
        }, hd => DefaultInv(hd, 1000000), 1.0, layer => layer >= 1 ? 3 : null),
        ("llama-yarn-biases-gelu", () =>
        {
            var c = Llama32Style();
            c["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0, ["original_max_position_embeddings"] = 64 };
            c["attention_bias"] = true;
            c["mlp_bias"] = true;
            c["hidden_act"] = "gelu_pytorch_tanh";
            return c;
        }, hd => YarnInv(hd, 500000, 4, 64).Item1, YarnInv(16, 500000, 4, 64).Item2, _ => null),
    ];

    public static TheoryData<string> CaseNames => new(Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void LossEqualsTheTransformersFormulas(string name)
    {
        var test = Cases.Single(c => c.Name == name);
        var (model, config) = Checkpoint(test.Config());
        using var _ = model;
        if (name.Contains("biases", StringComparison.Ordinal))   // attention_bias → q/k/v/o bias, mlp_bias → gate/up/down bias (LlamaConfig)
            Assert.True(new[] { "self_attn.q_proj.bias", "self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.down_proj.bias" }
                .All(n => model.named_parameters().Any(p => p.name == "model.layers.1." + n)));
        var ids = TinyModels.Ids(2, 12);
        using var guard = no_grad();
        var logits = ((LlamaForCausalLM)model).forward(ids);
        var reference = Reference(model, config, ids, test.Inv(config.HeadDim), test.Scale, test.Window);
        double loss = NextTokenLoss(logits, ids), expected = NextTokenLoss(reference, ids);
        double relative = Math.Abs(loss - expected) / expected;
        output.WriteLine($"{name}: loss {loss:R}, reference {expected:R}, relative error {relative:E2}");
        Assert.True(relative < 1e-4, $"{name}: loss {loss} vs reference {expected} (relative error {relative:E2})");
        HfFixtures.Close(reference, logits);
    }

    [Fact]
    public void TheWindowAndTheScalingChangeTheLoss()
    {
        // Guards the test above against a reference that ignores the field: each field moves the loss.
        var ids = TinyModels.Ids(2, 12);
        using var guard = no_grad();
        double Loss(JsonObject c) { var (m, _) = Checkpoint(c); using (m) return NextTokenLoss(((LlamaForCausalLM)m).forward(ids), ids); }
        Assert.NotEqual(Loss(MistralStyle(4)), Loss(MistralStyle(null)), 6);
        var unscaled = Llama32Style();
        unscaled.Remove("rope_scaling");
        Assert.NotEqual(Loss(Llama32Style()), Loss(unscaled), 6);
    }

    [Fact]
    public void DecodingWithACacheKeepsTheWindow()
    {
        var (model, _) = Checkpoint(MistralStyle(4));
        using var __ = model;
        var lm = (LlamaForCausalLM)model;
        var ids = TinyModels.Ids(1, 10);
        using var guard = no_grad();
        var full = lm.forward(ids);                          // (1, T, V)
        using var cache = new KvCache(lm.NumLayers);
        for (int t = 0; t < 10; t++)
        {
            var step = lm.Forward(ids[.., t..(t + 1)], cache);   // (1, 1, V)
            HfFixtures.Close(full[.., t..(t + 1)], step);
        }
    }

    [Theory]
    [InlineData("rope_scaling", """{"rope_type": "longrope", "short_factor": [1], "long_factor": [1]}""", "longrope")]
    [InlineData("rope_scaling", """{"rope_type": "llama3", "factor": 8.0}""", "low_freq_factor")]
    [InlineData("hidden_act", "\"swish2\"", "hidden_act")]
    [InlineData("partial_rotary_factor", "0.5", "partial_rotary_factor")]
    [InlineData("sliding_window", "0", "sliding_window")]
    [InlineData("attention_dropout", "0.1", "attention_dropout")]
    public void UnsupportedValuesAreRefusedByName(string key, string json, string named)
    {
        var config = MistralStyle();
        config[key] = JsonNode.Parse(json);
        var ex = Assert.Throws<ModelLoadException>(() => Checkpoint(config));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QwenWindowsFollowUseSlidingWindowAndMaxWindowLayers()
    {
        ModelConfig Read(JsonObject extra)
        {
            var c = (JsonObject)Cases.Single(x => x.Name == "qwen2-window-top-layer").Config();
            foreach (var (k, v) in extra) c[k] = v?.DeepClone();
            File.WriteAllText(Path.Combine(_dir, "config.json"), c.ToJsonString());
            return ModelConfig.Load(Path.Combine(_dir, "config.json"));
        }
        var off = Read(new JsonObject { ["use_sliding_window"] = false });
        Assert.Null(off.WindowOf(0));
        Assert.Null(off.WindowOf(1));
        var on = Read(new JsonObject());
        Assert.Equal([null, 3], new[] { on.WindowOf(0), on.WindowOf(1) });
        var listed = Read(new JsonObject { ["layer_types"] = new JsonArray("sliding_attention", "full_attention") });
        Assert.Equal([3, null], new[] { listed.WindowOf(0), listed.WindowOf(1) });
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------------

    private (nn.Module<Tensor, Tensor> Model, ModelConfig Config) Checkpoint(JsonObject config)
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), config.ToJsonString());
        var parsed = ModelConfig.Load(Path.Combine(_dir, "config.json"));
        using var shape = ModelFamilies.Create(parsed);
        var tensors = HfFixtures.Random(shape.named_parameters().Where(p => p.name != "lm_head.weight" || !parsed.TieWordEmbeddings)
            .Select(p => (p.name, p.parameter.shape)));
        HfFixtures.WriteFolder(_dir, config, tensors);
        return HfFixtures.Load(_dir);
    }

    private static double NextTokenLoss(Tensor logits, Tensor ids)
    {
        long v = logits.shape[2];
        var predicted = logits[.., ..^1].reshape(-1, v);
        var targets = ids[.., 1..].reshape(-1);
        return nn.functional.cross_entropy(predicted.to(ScalarType.Float64), targets).item<double>();
    }

    /// <summary>
    /// Independent decoder forward (explicit loops over heads, cos/sin per position from the given θ_i times the attention
    /// factor, mask kv ≤ q and kv &gt; q − window), with each layer's biases and activation taken from the checkpoint/config.
    /// </summary>
    private static Tensor Reference(nn.Module<Tensor, Tensor> model, ModelConfig c, Tensor ids, double[] inv, double scale, Func<int, int?> window)
    {
        var w = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach());
        Tensor Rms(Tensor x, Tensor g) => x / (x.pow(2).mean(new long[] { -1 }, keepdim: true) + c.RmsNormEps).sqrt() * g;
        Tensor Lin(Tensor x, string n) => w.TryGetValue(n + ".bias", out var b) ? x.matmul(w[n + ".weight"].t()) + b : x.matmul(w[n + ".weight"].t());
        Tensor Act(Tensor x) => c.HiddenAct == "silu" ? x * x.sigmoid()
            : (x * 0.5 * ((((x + x.pow(3) * 0.044715) * Math.Sqrt(2 / Math.PI)).tanh()) + 1));
        int t = (int)ids.shape[1], hd = c.HeadDim, half = hd / 2;
        var cos = new float[t, hd];
        var sin = new float[t, hd];
        for (int p = 0; p < t; p++)
            for (int i = 0; i < half; i++)
            {
                cos[p, i] = cos[p, i + half] = (float)(Math.Cos(p * inv[i]) * scale);
                sin[p, i] = sin[p, i + half] = (float)(Math.Sin(p * inv[i]) * scale);
            }
        var cosT = tensor(cos);
        var sinT = tensor(sin);
        Tensor Rope(Tensor x) => x * cosT + cat(new[] { -x[.., half..], x[.., ..half] }, 1) * sinT;

        var outputs = new List<Tensor>();
        for (long b = 0; b < ids.shape[0]; b++)
        {
            var x = w["model.embed_tokens.weight"].index_select(0, ids[b]);
            for (int l = 0; l < c.NumHiddenLayers; l++)
            {
                string pre = $"model.layers.{l}.";
                var blocked = new bool[t, t];
                for (int q = 0; q < t; q++)
                    for (int k = 0; k < t; k++)
                        blocked[q, k] = !(k <= q && (window(l) is not { } span || k > q - span));
                var mask = tensor(blocked);
                var h = Rms(x, w[pre + "input_layernorm.weight"]);
                var (qs, ks, vs) = (Lin(h, pre + "self_attn.q_proj"), Lin(h, pre + "self_attn.k_proj"), Lin(h, pre + "self_attn.v_proj"));
                var heads = new List<Tensor>();
                for (int head = 0; head < c.NumAttentionHeads; head++)
                {
                    int kv = head / (c.NumAttentionHeads / c.NumKeyValueHeads);
                    var scores = Rope(qs[.., (head * hd)..((head + 1) * hd)]).matmul(Rope(ks[.., (kv * hd)..((kv + 1) * hd)]).t()) / Math.Sqrt(hd);
                    heads.Add(scores.masked_fill(mask, float.NegativeInfinity).softmax(-1).matmul(vs[.., (kv * hd)..((kv + 1) * hd)]));
                }
                x = x + Lin(cat(heads, 1), pre + "self_attn.o_proj");
                var m = Rms(x, w[pre + "post_attention_layernorm.weight"]);
                x = x + Lin(Act(Lin(m, pre + "mlp.gate_proj")) * Lin(m, pre + "mlp.up_proj"), pre + "mlp.down_proj");
            }
            x = Rms(x, w["model.norm.weight"]);
            outputs.Add(x.matmul(w[c.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"].t()));
        }
        return stack(outputs);
    }
}
