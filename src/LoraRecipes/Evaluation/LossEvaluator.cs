using LoraRecipes.Data;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Evaluation;

/// <summary>Token-weighted mean loss and perplexity of a model over examples.</summary>
public sealed record LossResult(double Loss, double Perplexity, long Tokens);

/// <summary>Scores examples without gradients (inference mode, eval mode).</summary>
public static class LossEvaluator
{
    /// <summary>Mean next-token cross-entropy over every scored token (not averaged per example).</summary>
    public static LossResult Evaluate(nn.Module<Tensor, Tensor> model, IReadOnlyList<TokenizedExample> examples, int batchSize, int padId, Device? device = null)
    {
        if (examples.Count == 0) return new LossResult(double.NaN, double.NaN, 0);
        var lm = model as ICausalLM ?? throw new ArgumentException($"loss evaluation needs a causal language model; {model.GetType().Name} is not one.", nameof(model));
        bool wasTraining = model.training;
        model.eval();
        double total = 0;
        long tokens = 0;
        try
        {
            using var guard = inference_mode();
            // Similar lengths together: less padding computed, same result. Sorted by index on the lengths alone, and
            // decoded one batch at a time, so a memory-mapped validation set is never held whole.
            var lengths = ExampleLengths.Of(examples);
            var order = Enumerable.Range(0, examples.Count).OrderBy(lengths.LengthOf).ToArray();
            for (int i = 0; i < order.Length; i += batchSize)
            {
                using var scope = NewDisposeScope();
                var slice = order.AsSpan(i, Math.Min(batchSize, order.Length - i)).ToArray();
                using var batch = Batch.Collate(slice.Select(j => examples[j]).ToList(), padId, device);
                // Logits only at scored positions, chunk by chunk: no (B, T, V) tensor.
                using var batchLoss = CausalLoss.FromHidden(lm, batch.Hidden(lm), batch.Labels);
                total += batchLoss.Sum;
                tokens += batchLoss.Scored;
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        double loss = tokens == 0 ? double.NaN : total / tokens;
        return new LossResult(loss, Math.Exp(loss), tokens);
    }
}
