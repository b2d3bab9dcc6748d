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
        long v = logits.shape[2];
        var shifted = logits.narrow(1, 0, logits.shape[1] - 1).reshape(-1, v).to(ScalarType.Float32);   // (B·(T−1), V)
        var targets = labels.narrow(1, 1, labels.shape[1] - 1).reshape(-1);                              // (B·(T−1))
        var loss = nn.functional.cross_entropy(shifted, targets, ignore_index: ExampleEncoder.IgnoreIndex, reduction: nn.Reduction.Sum);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Scored positions of a batch: labels after the first position that are not -100.</summary>
    public static long ScoredTokens(Tensor labels)
    {
        using var scope = NewDisposeScope();
        return labels.narrow(1, 1, labels.shape[1] - 1).ne(ExampleEncoder.IgnoreIndex).sum().item<long>();
    }
}
