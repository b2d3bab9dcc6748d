using System.Text.Json.Nodes;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Tests;

/// <summary>Very small model configs for fast numerical tests.</summary>
internal static class TinyModels
{
    public static ModelConfig Config(bool gqa = true, bool bias = false, bool tied = true) => new()
    {
        ModelType = bias ? "qwen2" : "llama",
        VocabSize = 64,
        HiddenSize = 32,
        IntermediateSize = 48,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = gqa ? 2 : 4,
        HeadDim = 8,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 64,
        TieWordEmbeddings = tied,
        AttentionBias = bias,
    };

    /// <summary>A model with random (seeded) weights, including non-trivial norm scales and biases.</summary>
    public static LlamaForCausalLM Create(ModelConfig? config = null, long seed = 1)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM(config ?? Config());
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.copy_(rand_like(p) + 0.5);
                else p.copy_(randn_like(p) * 0.2);
            }
        }
        model.eval();
        return model;
    }

    /// <summary>A 2-layer GPT-2 (hidden 24, 3 heads, vocab 40, 32 positions) as its config.json reads.</summary>
    public static ModelConfig Gpt2Config() => ModelConfig.FromJson(new JsonObject
    {
        ["model_type"] = "gpt2", ["vocab_size"] = 40, ["n_positions"] = 32, ["n_embd"] = 24, ["n_layer"] = 2, ["n_head"] = 3,
        ["activation_function"] = "gelu_new", ["layer_norm_epsilon"] = 1e-5,
    }, "config.json");

    /// <summary>A 2-layer BERT or DistilBERT (hidden 16, 2 heads, vocab 40, 24 positions) as its config.json reads.</summary>
    public static ModelConfig EncoderConfig(string family) => ModelConfig.FromJson(family == "bert"
        ? new JsonObject
        {
            ["model_type"] = "bert", ["vocab_size"] = 40, ["hidden_size"] = 16, ["num_hidden_layers"] = 2, ["num_attention_heads"] = 2,
            ["intermediate_size"] = 32, ["hidden_act"] = "gelu", ["max_position_embeddings"] = 24, ["type_vocab_size"] = 2, ["layer_norm_eps"] = 1e-12,
        }
        : new JsonObject
        {
            ["model_type"] = "distilbert", ["vocab_size"] = 40, ["dim"] = 16, ["n_layers"] = 2, ["n_heads"] = 2, ["hidden_dim"] = 32,
            ["activation"] = "gelu", ["max_position_embeddings"] = 24,
        }, "config.json");

    public static Tensor Ids(long batch, long length, long vocab = 64, long seed = 7)
    {
        var g = new Generator(checked((ulong)seed));
        return randint(0, vocab, new[] { batch, length }, generator: g);
    }
}

internal static class TensorAssert
{
    /// <summary>Exact equality of shape and every element.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>Same shape and every element within <paramref name="tolerance"/>.</summary>
    public static void Close(Tensor expected, Tensor actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff < tolerance, $"max |difference| {diff}");
    }
}
