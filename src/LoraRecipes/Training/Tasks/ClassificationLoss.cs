using LoraRecipes.Data;
using LoraRecipes.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Training.Tasks;

/// <summary>Cross-entropy of the class logits, example-weighted over the update (one label per example).</summary>
public sealed class ClassificationLoss : ITaskLoss
{
    public static readonly ClassificationLoss Instance = new();

    public long Units(TokenizedExample example) => 1;

    public IMicroBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device device)
    {
        var (ids, mask, labels) = ClassificationData.Collate(examples, padId, device);   // (B, T), (B, T), (B)
        return new MicroBatch(ids, mask, labels, examples.Sum(e => (long)e.InputIds.Length));
    }

    private sealed class MicroBatch(Tensor ids, Tensor mask, Tensor labels, long tokens) : IMicroBatch
    {
        public long Tokens => tokens;

        public IBatchLoss Forward(nn.Module<Tensor, Tensor> model, long stepUnits)
        {
            var logits = ((ISequenceClassifier)model).Classify(ids, mask).to(ScalarType.Float32);   // (B, L)
            return new Loss(nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum), stepUnits);
        }

        public void Dispose()
        {
            ids.Dispose();
            mask.Dispose();
            labels.Dispose();
        }
    }

    private sealed class Loss(Tensor sum, long stepUnits) : IBatchLoss
    {
        public double Sum => sum.item<float>();
        public void Backward()
        {
            using var units = Math.Max(stepUnits, 1).ToScalar();   // held: an implicit Scalar can be finalized under libtorch (TorchSharp#1434)
            using var mean = sum.div(units);
            mean.backward();
        }
        public void Dispose() => sum.Dispose();
    }
}
