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
}
