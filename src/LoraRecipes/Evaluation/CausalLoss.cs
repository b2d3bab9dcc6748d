using LoraRecipes.Data;
using static TorchSharp.torch;

namespace LoraRecipes.Evaluation;

/// <summary>Next-token cross-entropy, summed in fp32 over the positions whose label is not -100.</summary>
public static class CausalLoss
{
    /// <summary>Sum of −log p(labels[t+1] | ≤ t) over scored positions; logits (B, T, V), labels (B, T).</summary>
    public static Tensor Sum(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        long b = logits.shape[0], v = logits.shape[2];
        // Shift the labels, not the logits: narrowing (B, T, V) would copy it; the last position gets -100 instead.
        var targets = cat(new[] { labels.narrow(1, 1, labels.shape[1] - 1), full(b, 1, ExampleEncoder.IgnoreIndex, ScalarType.Int64, labels.device) }, dim: 1);
        var flat = logits.reshape(-1, v).to(ScalarType.Float32);                                         // (B·T, V), a view in fp32
        var loss = nn.functional.cross_entropy(flat, targets.reshape(-1), ignore_index: ExampleEncoder.IgnoreIndex, reduction: nn.Reduction.Sum);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Scored positions of a batch: labels after the first position that are not -100.</summary>
    public static long ScoredTokens(Tensor labels)
    {
        using var scope = NewDisposeScope();
        return labels.narrow(1, 1, labels.shape[1] - 1).ne(ExampleEncoder.IgnoreIndex).sum().item<long>();
    }
}
