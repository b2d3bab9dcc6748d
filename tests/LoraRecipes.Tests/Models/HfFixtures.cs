using System.Text.Json.Nodes;
using LoraRecipes.IO;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

/// <summary>HF-layout checkpoints built in the test (names and shapes as transformers saves them) and reference ops.</summary>
internal static class HfFixtures
{
    /// <summary>Random tensors by name: weights N(0, 0.3), LayerNorm scales around 1, biases small.</summary>
    public static Dictionary<string, Tensor> Random(IEnumerable<(string Name, long[] Shape)> spec, long seed = 3)
    {
        var g = new Generator(checked((ulong)seed));
        var d = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in spec)
        {
            bool norm = name.Contains("LayerNorm", StringComparison.Ordinal) || name.Contains("layer_norm", StringComparison.Ordinal) || name.Contains(".ln_", StringComparison.Ordinal);
            var t = randn(shape, generator: g) * (name.EndsWith(".bias", StringComparison.Ordinal) ? 0.1 : 0.3);
            d[name] = norm && name.EndsWith(".weight", StringComparison.Ordinal) ? t + 1.0 : t;
        }
        return d;
    }

    /// <summary>Writes config.json and model.safetensors into <paramref name="folder"/>.</summary>
    public static void WriteFolder(string folder, JsonObject config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>config.json → family model → weights, exactly as <see cref="ModelLoader"/> does it (without a tokenizer).</summary>
    public static (nn.Module<Tensor, Tensor> Model, ModelConfig Config) Load(string folder, bool classifier = false)
    {
        var config = ModelConfig.Load(Path.Combine(folder, "config.json"));
        var model = classifier ? ModelFamilies.CreateForSequenceClassification(config) : ModelFamilies.Create(config);
        ModelLoader.LoadWeights(model, config, folder);
        model.eval();
        return (model, config);
    }

    /// <summary>LayerNorm over the last dim with biased variance, written out.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor g, Tensor b, double eps)
    {
        var mean = x.mean(new long[] { -1 }, keepdim: true);
        var variance = (x - mean).pow(2).mean(new long[] { -1 }, keepdim: true);
        return (x - mean) / (variance + eps).sqrt() * g + b;
    }

    /// <summary>Exact GELU: x·Φ(x) = ½x(1 + erf(x/√2)).</summary>
    public static Tensor GeluErf(Tensor x) => x * 0.5 * ((x / Math.Sqrt(2)).erf() + 1);

    /// <summary>One head's attention for a single sequence (T, hd): softmax(q kᵀ/√hd, masked) v.</summary>
    public static Tensor Head(Tensor q, Tensor k, Tensor v, bool causal)
    {
        long t = q.shape[0];
        var scores = q.matmul(k.t()) / Math.Sqrt(q.shape[1]);
        if (causal) scores = scores.masked_fill(ones(t, t).triu(1).to(ScalarType.Bool), float.NegativeInfinity);
        return scores.softmax(-1).matmul(v);
    }

    /// <summary>Parameter count without a tied head counted twice.</summary>
    public static long Count(nn.Module model, bool tiedHead) =>
        model.named_parameters().Where(p => !(tiedHead && p.name == "lm_head.weight")).Sum(p => p.parameter.numel());

    public static void Close(Tensor expected, Tensor actual, double tol = 1e-4) =>
        Assert.True(actual.shape.SequenceEqual(expected.shape) && actual.allclose(expected, rtol: tol, atol: tol),
            $"shape [{string.Join(", ", actual.shape)}] vs [{string.Join(", ", expected.shape)}]; max diff {(actual.shape.SequenceEqual(expected.shape) ? (actual - expected).abs().max().item<float>() : float.NaN)}");
}
