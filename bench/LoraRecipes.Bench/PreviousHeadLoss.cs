using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Training.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary>
/// The trainer's head loss as it was before bench/NOTES.md §14 (commit afda422): head at scored positions in chunks of
/// 2^25 logits, each chunk's gradient through autograd's <c>cross_entropy</c> (log-softmax, nll, their backward). Kept
/// here only so <c>--profile-step</c> can time the old and the new step interleaved in one process.
/// </summary>
internal sealed class PreviousHeadLoss : ITaskLoss
{
    public static readonly PreviousHeadLoss Instance = new();
    private const long ChunkElements = 1L << 25;
    private static readonly Scalar Ignore = ExampleEncoder.IgnoreIndex.ToScalar();

    public long Units(TokenizedExample example) => CausalLmLoss.Instance.Units(example);

    public IMicroBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device device) => new MicroBatch(Batch.Collate(examples, padId, device));

    private sealed class MicroBatch(Batch batch) : IMicroBatch
    {
        public long Tokens => batch.Tokens;

        public IBatchLoss Forward(nn.Module<Tensor, Tensor> model, long stepUnits) => Compute((ICausalLM)model, batch.Hidden((ICausalLM)model), batch.Labels, 1.0 / Math.Max(stepUnits, 1));

        public void Dispose() => batch.Dispose();
    }

    private static Loss Compute(ICausalLM model, Tensor hidden, Tensor labels, double gradScale)
    {
        long h = hidden.shape[2], b = labels.shape[0];
        long chunk = Math.Max(1, ChunkElements / model.Config.VocabSize);
        var shifted = cat(new[] { labels.narrow(1, 1, labels.shape[1] - 1), full(b, 1, Ignore, ScalarType.Int64) }, dim: 1).reshape(-1);
        var index = shifted.ne(Ignore).nonzero().reshape(-1);
        var targets = shifted.index_select(0, index);
        var rows = hidden.detach().reshape(-1, h).index_select(0, index);
        long n = rows.shape[0];
        var hiddenGrad = zeros_like(hidden);
        var flatGrad = hiddenGrad.view(-1, h);
        double sum = 0;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long len = Math.Min(chunk, n - start);
            var part = rows.narrow(0, start, len).detach().requires_grad_(true);
            var logits = model.Head(part).to(ScalarType.Float32);
            var loss = nn.functional.cross_entropy(logits, targets.narrow(0, start, len), reduction: nn.Reduction.Sum);
            sum += loss.item<float>();
            using var scale = gradScale.ToScalar();
            loss.mul(scale).backward();
            flatGrad.index_copy_(0, index.narrow(0, start, len), part.grad!);
        }
        return new Loss(sum, hidden, hiddenGrad);
    }

    private sealed class Loss(double sum, Tensor hidden, Tensor hiddenGrad) : IBatchLoss
    {
        public double Sum => sum;
        public void Backward() => hidden.backward(new[] { hiddenGrad });
        public void Dispose() => hiddenGrad.Dispose();
    }
}
