using LoraRecipes.Data;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Evaluation;

/// <summary>Next-token cross-entropy, summed in fp32 over the positions whose label is not -100.</summary>
/// <remarks>
/// Two forms with the same value. <see cref="Sum"/> takes full logits (B, T, V): the plain path, kept as the reference
/// the tests compare with. <see cref="HeadLoss"/> takes the hidden states (B, T, H) and runs the head only at scored
/// positions, in chunks, so prompt and padding positions cost no head FLOPs and the (N, V) logits of one chunk are
/// the most that is ever alive (bench/NOTES.md, "head and loss at scored positions").
/// </remarks>
public static class CausalLoss
{
    /// <summary>Most logits one head chunk holds: 2^25 (128 MiB in fp32), e.g. 256 rows of Llama 3's 128,256-token vocabulary.</summary>
    public const long ChunkElements = 1L << 25;

    /// <summary>Sum of −log p(labels[t+1] | ≤ t) over scored positions; logits (B, T, V), labels (B, T).</summary>
    public static Tensor Sum(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[2];
        var flat = logits.reshape(-1, v).to(ScalarType.Float32);                                         // (B·T, V), a view in fp32
        var loss = nn.functional.cross_entropy(flat, ShiftedTargets(labels).reshape(-1), ignore_index: ExampleEncoder.IgnoreIndex, reduction: nn.Reduction.Sum);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Scored positions of a batch: labels after the first position that are not -100.</summary>
    public static long ScoredTokens(Tensor labels)
    {
        using var scope = NewDisposeScope();
        return labels.narrow(1, 1, labels.shape[1] - 1).ne(ExampleEncoder.IgnoreIndex).sum().item<long>();
    }

    /// <summary>
    /// The loss from hidden states (B, T, H): logits only at the N scored positions, in chunks of at most
    /// <see cref="ChunkElements"/> logits. When <paramref name="hidden"/> carries autograd history, each chunk's
    /// gradient of <paramref name="gradScale"/> · loss is taken through the head at once and the chunk's logits freed;
    /// <see cref="HeadLoss.Backward"/> then carries the summed gradient into the decoder. Without history
    /// (evaluation), only the sum is computed.
    /// </summary>
    /// <param name="model">The model whose <see cref="ICausalLM.Head"/> turns rows into logits.</param>
    /// <param name="hidden">Final hidden states (B, T, H) from <see cref="ICausalLM.Hidden"/>.</param>
    /// <param name="labels">Labels (B, T), -100 where not scored (not yet shifted).</param>
    /// <param name="gradScale">Factor on the loss sum whose gradient is taken (1 / scored tokens of the update).</param>
    /// <param name="chunkRows">Rows per head chunk; default: as many as fit <see cref="ChunkElements"/> logits.</param>
    public static HeadLoss FromHidden(ICausalLM model, Tensor hidden, Tensor labels, double gradScale = 1.0, long? chunkRows = null) =>
        HeadLoss.Compute(model, hidden, labels, gradScale, chunkRows ?? Math.Max(1, ChunkElements / model.Config.VocabSize));

    /// <summary>Labels moved one position left (the target of position t is the token at t + 1); the last position gets -100.</summary>
    /// <remarks>Shifting the labels instead of narrowing the logits avoids copying (B, T, V).</remarks>
    internal static Tensor ShiftedTargets(Tensor labels)
    {
        long b = labels.shape[0];
        return cat(new[] { labels.narrow(1, 1, labels.shape[1] - 1), full(b, 1, ExampleEncoder.IgnoreIndex, ScalarType.Int64, labels.device) }, dim: 1);
    }
}

/// <summary>
/// One batch's loss computed from hidden states at scored positions (see <see cref="CausalLoss.FromHidden"/>).
/// Dispose after <see cref="Backward"/>.
/// </summary>
public sealed class HeadLoss : IDisposable
{
    private Tensor? _rows;       // (N, H) scored hidden rows, still attached to the decoder's graph
    private Tensor? _rowsGrad;   // (N, H) d(scale · loss)/d rows, summed over the chunks

    private HeadLoss(double sum, long scored, Tensor? rows, Tensor? rowsGrad) => (Sum, Scored, _rows, _rowsGrad) = (sum, scored, rows, rowsGrad);

    /// <summary>Sum of −log p over the scored positions (fp32 per chunk, added in double).</summary>
    public double Sum { get; }

    /// <summary>Scored positions (N).</summary>
    public long Scored { get; }

    internal static HeadLoss Compute(ICausalLM model, Tensor hidden, Tensor labels, double gradScale, long chunk)
    {
        long h = hidden.shape[2];
        Tensor rows, targets;
        using (var scope = NewDisposeScope())
        {
            var shifted = CausalLoss.ShiftedTargets(labels).reshape(-1);                      // (B·T)
            var index = shifted.ne(ExampleEncoder.IgnoreIndex).nonzero().reshape(-1);           // (N)
            rows = hidden.reshape(-1, h).index_select(0, index).MoveToOuterDisposeScope();     // (N, H)
            targets = shifted.index_select(0, index).MoveToOuterDisposeScope();                 // (N)
        }
        using var _ = targets;
        long n = rows.shape[0];
        if (n == 0)
        {
            rows.Dispose();
            return new HeadLoss(0, 0, null, null);
        }
        bool train = rows.requires_grad;
        // The chunks differentiate with respect to a detached copy of the rows, so the head's graph ends at each chunk.
        var leaf = train ? rows.detach().requires_grad_(true) : rows;
        double sum = 0;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long len = Math.Min(chunk, n - start);
            var logits = model.Head(leaf.narrow(0, start, len)).to(ScalarType.Float32);        // (len, V) fp32
            var loss = nn.functional.cross_entropy(logits, targets.narrow(0, start, len), reduction: nn.Reduction.Sum);
            sum += loss.item<float>();
            if (train) (loss * gradScale).backward();
        }
        if (!train)
        {
            rows.Dispose();
            return new HeadLoss(sum, n, null, null);
        }
        var grad = leaf.grad!.detach().clone();
        leaf.Dispose();
        return new HeadLoss(sum, n, rows, grad);
    }

    /// <summary>Back-propagates the chunks' summed gradient through the decoder (a no-op for evaluation or no scored token).</summary>
    public void Backward()
    {
        if (_rows is null || _rowsGrad is null) return;
        _rows.backward(new[] { _rowsGrad });
        Dispose();
    }

    public void Dispose()
    {
        _rows?.Dispose();
        _rowsGrad?.Dispose();
        (_rows, _rowsGrad) = (null, null);
    }
}
