using LoraRecipes.Models;

namespace LoraRecipes.Bench;

/// <summary>
/// FLOPs of one LoRA training step, counted as the issue defines them: forward and input-gradient of every frozen
/// matmul (no weight gradients: the base is frozen), forward + both gradients of the LoRA matmuls, and causal
/// attention (QKᵀ and PV over the lower triangle, backward counted as twice the forward). Norms, RoPE and
/// element-wise ops are not counted. A multiply-add is 2 FLOPs. The LM head counts the positions whose logits the
/// loss needs (<paramref name="scoredRows"/>): work on unscored prompt positions is not useful work, whichever path does it.
/// </summary>
internal static class FlopCount
{
    public static double TrainingStep(ModelConfig c, long batch, long seq, int rank, IReadOnlyCollection<string> targets, long scoredRows)
    {
        double tokens = batch * seq;
        long h = c.HiddenSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim, i = c.IntermediateSize;
        var linears = new (string Name, long In, long Out)[]
        {
            ("q_proj", h, q), ("k_proj", h, kv), ("v_proj", h, kv), ("o_proj", q, h),
            ("gate_proj", h, i), ("up_proj", h, i), ("down_proj", i, h),
        };
        bool all = targets.Contains("all-linear");
        double total = 0;
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            foreach (var (name, fanIn, fanOut) in linears)
            {
                double forward = 2 * tokens * fanIn * fanOut;
                // Layer 0's q/k/v read the embeddings, which need no gradient: no input-gradient there.
                bool inputGrad = layer > 0 || name is not ("q_proj" or "k_proj" or "v_proj");
                total += forward * (inputGrad ? 2 : 1);
                if (all || targets.Contains(name)) total += 3 * 2 * tokens * rank * (fanIn + fanOut);
            }
            double attention = 2 * batch * c.NumAttentionHeads * (double)seq * seq * c.HeadDim;   // QKᵀ + PV, causal half
            total += 3 * attention;
        }
        total += 2 * (2.0 * scoredRows * h * c.VocabSize);   // lm_head forward + input-gradient at the scored positions
        return total;
    }

    /// <summary>
    /// FLOPs of one classification step of a BERT encoder, counted as <see cref="TrainingStep"/> counts them: forward and
    /// input-gradient of every frozen matmul (layer 0's query/key/value read the frozen embeddings: no input-gradient
    /// there), forward + both gradients of the LoRA matmuls, bidirectional attention over all T×T pairs (QKᵀ and PV,
    /// backward twice the forward), the pooler (on the first position) and the head (forward + weight and input gradients).
    /// Embedding look-ups, LayerNorm, GELU and the loss are not counted.
    /// </summary>
    public static double EncoderClassificationStep(ModelConfig c, long batch, long seq, int rank, IReadOnlyCollection<string> targets)
    {
        double tokens = batch * seq;
        long h = c.HiddenSize, i = c.IntermediateSize, labels = Math.Max(1, c.Labels.Count);
        var linears = new (string Path, long In, long Out)[]
        {
            ("attention.self.query", h, h), ("attention.self.key", h, h), ("attention.self.value", h, h), ("attention.output.dense", h, h),
            ("intermediate.dense", h, i), ("output.dense", i, h),
        };
        // As TargetMatcher: a target names a module path or a dotted suffix of it.
        bool Adapted(string path) => targets.Contains("all-linear") || targets.Any(t => ("." + path).EndsWith("." + t, StringComparison.Ordinal));
        double total = 0;
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            foreach (var (path, fanIn, fanOut) in linears)
            {
                double forward = 2 * tokens * fanIn * fanOut;
                bool inputGrad = layer > 0 || !path.StartsWith("attention.self.", StringComparison.Ordinal);
                total += forward * (inputGrad ? 2 : 1);
                if (Adapted(path)) total += 3 * 2 * tokens * rank * (fanIn + fanOut);
            }
            total += 3 * (2 * 2.0 * batch * seq * seq * h);   // QKᵀ + PV over every pair (all heads: h = heads · head_dim)
        }
        total += 2 * (2.0 * batch * h * h);                    // pooler: forward + input-gradient
        total += 3 * (2.0 * batch * h * labels);               // head: forward + weight and input gradients
        return total;
    }
}
