using LoraRecipes.Data;
using LoraRecipes.Models;
using TorchSharp;
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
    /// <summary>
    /// Most logits one head chunk holds: 7 · 2^20 (28 MiB in fp32), e.g. 229 rows of a 32,000-token vocabulary, 57 of
    /// Llama 3's 128,256. Kept under glibc's largest mmap threshold (32 MiB on 64-bit) with room for rounding: a larger
    /// buffer is mmapped fresh on every allocation and its zeroed pages faulted in again each chunk (the earlier 2^25
    /// faulted ~1 GiB in per 44m step); a much smaller one makes the head's matmuls less efficient (bench/NOTES.md §14).
    /// </summary>
    public const long ChunkElements = 7L << 20;

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
        return labels.narrow(1, 1, labels.shape[1] - 1).ne(Ignore).sum().item<long>();
    }

    /// <summary>
    /// The loss from hidden states (B, T, H): logits only at the N scored positions, in chunks of at most
    /// <see cref="ChunkElements"/> logits. When <paramref name="hidden"/> carries autograd history, each chunk's
    /// gradient of <paramref name="gradScale"/> · loss is taken through the head at once and the chunk's logits freed;
    /// <see cref="HeadLoss.Backward"/> then carries the summed gradient into the decoder. Without history
    /// (evaluation), only the sum is computed.
    /// </summary>
    /// <param name="model">The model whose <see cref="ICausalLM.Head"/> turns rows into logits.</param>
    /// <param name="hidden">Final hidden states (B, T, H) from <see cref="ICausalLM.Hidden(Tensor, Tensor?, Tensor?)"/>.</param>
    /// <param name="labels">Labels (B, T), -100 where not scored (not yet shifted).</param>
    /// <param name="gradScale">Factor on the loss sum whose gradient is taken (1 / scored tokens of the update).</param>
    /// <param name="chunkRows">Rows per head chunk; default: as many as fit <see cref="ChunkElements"/> logits.</param>
    public static HeadLoss FromHidden(ICausalLM model, Tensor hidden, Tensor labels, double gradScale = 1.0, long? chunkRows = null) =>
        HeadLoss.Compute(model, hidden, labels, gradScale, chunkRows ?? Math.Max(1, ChunkElements / model.Config.VocabSize));

    /// <summary>-100 as a Scalar held for the process (an implicitly converted one can be finalized under libtorch: TorchSharp#1434).</summary>
    internal static readonly TorchSharp.Scalar Ignore = ExampleEncoder.IgnoreIndex.ToScalar();

    /// <summary>Labels moved one position left (the target of position t is the token at t + 1); the last position gets -100.</summary>
    /// <remarks>Shifting the labels instead of narrowing the logits avoids copying (B, T, V).</remarks>
    internal static Tensor ShiftedTargets(Tensor labels)
    {
        long b = labels.shape[0];
        return cat(new[] { labels.narrow(1, 1, labels.shape[1] - 1), full(b, 1, Ignore, ScalarType.Int64, labels.device) }, dim: 1);
    }
}

/// <summary>
/// One batch's loss computed from hidden states at scored positions (see <see cref="CausalLoss.FromHidden"/>).
/// Dispose after <see cref="Backward"/>.
/// </summary>
public sealed class HeadLoss : IDisposable
{
    private Tensor? _hidden;       // (B, T, H) the caller's hidden states, attached to the decoder's graph (not owned)
    private Tensor? _hiddenGrad;   // (B, T, H) d(scale · loss)/d hidden: the chunks' row gradients, zero elsewhere

    private HeadLoss(double sum, long scored, Tensor? hidden, Tensor? hiddenGrad) => (Sum, Scored, _hidden, _hiddenGrad) = (sum, scored, hidden, hiddenGrad);

    /// <summary>Sum of −log p over the scored positions (fp32 per chunk, added in double).</summary>
    public double Sum { get; }

    /// <summary>Scored positions (N).</summary>
    public long Scored { get; }

    internal static HeadLoss Compute(ICausalLM model, Tensor hidden, Tensor labels, double gradScale, long chunk)
    {
        long h = hidden.shape[2];
        bool train = hidden.requires_grad;
        Tensor index, targets, rows;
        using (var scope = NewDisposeScope())
        {
            var shifted = CausalLoss.ShiftedTargets(labels).reshape(-1);                                  // (B·T)
            index = shifted.ne(CausalLoss.Ignore).nonzero().reshape(-1).MoveToOuterDisposeScope(); // (N)
            targets = shifted.index_select(0, index).MoveToOuterDisposeScope();                             // (N)
            // Gathered outside autograd: the rows' gradient goes back with index_copy_ (below), not through
            // index_select's backward, which on CPU is an index_add_ measured 5–7 % of a 25m step.
            rows = hidden.detach().reshape(-1, h).index_select(0, index).MoveToOuterDisposeScope();         // (N, H)
        }
        using var _ = index;
        using var __ = targets;
        using var ___ = rows;
        long n = rows.shape[0];
        if (n == 0) return new HeadLoss(0, 0, null, null);
        // Each chunk is its own leaf: its logits' graph ends there, and its rows' gradient goes straight to their
        // positions in the (B, T, H) gradient (one shared leaf would add a zero-filled (N, H) gradient per chunk).
        var hiddenGrad = train ? zeros_like(hidden) : null;
        using var flatGrad = hiddenGrad?.view(-1, h);
        double sum = 0;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long len = Math.Min(chunk, n - start);
            var part = rows.narrow(0, start, len);
            if (train) part = part.detach().requires_grad_(true);
            var logits = model.Head(part).to(ScalarType.Float32);                                // (len, V) fp32
            var chunkTargets = targets.narrow(0, start, len);
            if (!train)
            {
                sum += nn.functional.cross_entropy(logits, chunkTargets, reduction: nn.Reduction.Sum).item<float>();
                continue;
            }
            // The logits' gradient is computed in their own buffer (no log-softmax, no one-hot, no second (len, V)
            // gradient), then taken back through the head.
            sum += CrossEntropyInPlace(logits, chunkTargets, gradScale);
            logits.backward(new[] { logits.detach() });
            flatGrad!.index_copy_(0, index.narrow(0, start, len), part.grad!);
        }
        return train ? new HeadLoss(sum, n, hidden, hiddenGrad) : new HeadLoss(sum, n, null, null);
    }

    /// <summary>
    /// Σᵢ −log softmax(zᵢ)[yᵢ] over the rows of <paramref name="logits"/> (N, V) fp32, returned, and the logits overwritten
    /// with its gradient times <paramref name="scale"/>: s·(softmax(zᵢ) − onehot(yᵢ)), the gradient
    /// <c>cross_entropy(reduction: sum)</c>'s backward gives, up to float rounding. Written in place on a detached
    /// view: the head's backward (a matmul, a LoRA sum, a dtype cast) never reads its output, so autograd allows it. A head
    /// whose backward did read it (a tanh soft-cap) would make autograd raise — the view shares the version counter — not
    /// silently compute a wrong gradient.
    /// </summary>
    /// <remarks>
    /// Per row with m = max z, e = exp(z − m), Z = Σ e: loss = m + log Z − z_y; gradient = e · (s / Z) − s at y.
    /// Five passes over (N, V) in one buffer, against cross-entropy's log-softmax output, nll's zero-filled one-hot
    /// gradient and log-softmax's backward output (three more (N, V) buffers).
    /// </remarks>
    internal static double CrossEntropyInPlace(Tensor logits, Tensor targets, double scale)
    {
        using var scope = NewDisposeScope();
        using var guard = no_grad();
        var z = logits.detach();                                                   // (N, V), shares the buffer
        var y = targets.unsqueeze(1);                                              // (N, 1)
        var picked = z.gather(1, y);                                               // (N, 1) z_y
        var max = z.amax(new long[] { 1 }, keepdim: true);                         // (N, 1) m
        z.sub_(max).exp_();                                                        // e = exp(z − m)
        var total = z.sum(1, keepdim: true);                                       // (N, 1) Z
        double loss = (max + total.log() - picked).sum().item<float>();
        using var s = scale.ToScalar();   // held: an implicit Scalar can be finalized under libtorch (TorchSharp#1434)
        using var minusS = (-scale).ToScalar();
        z.mul_(total.reciprocal().mul_(s));                                        // e · s / Z
        z.scatter_add_(1, y, full_like(picked, minusS));                           // − s at y
        return loss;
    }

    /// <summary>Back-propagates the chunks' summed gradient through the decoder (a no-op for evaluation or no scored token).</summary>
    public void Backward()
    {
        if (_hidden is null || _hiddenGrad is null) return;
        _hidden.backward(new[] { _hiddenGrad });
        Dispose();
    }

    public void Dispose()
    {
        _hiddenGrad?.Dispose();
        (_hidden, _hiddenGrad) = (null, null);
    }
}
