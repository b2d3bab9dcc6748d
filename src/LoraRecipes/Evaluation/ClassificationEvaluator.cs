using LoraRecipes.Data;
using LoraRecipes.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Evaluation;

/// <summary>Mean cross-entropy and the classification metrics of a classifier over labelled examples.</summary>
public sealed record ClassificationResult(double Loss, ClassificationMetrics Metrics, IReadOnlyList<string> Labels)
{
    public double Accuracy => Metrics.Accuracy;
    public double MacroF1 => Metrics.MacroF1;
}

/// <summary>Scores classification examples without gradients (inference mode, eval mode).</summary>
public static class ClassificationEvaluator
{
    /// <summary>Predictions are the argmax of the logits; the loss is the mean cross-entropy per example.</summary>
    public static ClassificationResult Evaluate(ISequenceClassifier classifier, IReadOnlyList<TokenizedExample> examples, int batchSize, int padId, Device? device = null)
    {
        var model = (nn.Module)classifier;
        int numLabels = classifier.Labels.Count;
        if (examples.Count == 0) return new ClassificationResult(double.NaN, ClassificationMetrics.Compute([], [], numLabels), classifier.Labels);
        bool wasTraining = model.training;
        model.eval();
        double total = 0;
        var actual = new List<int>();
        var predicted = new List<int>();
        try
        {
            using var guard = inference_mode();
            // Similar lengths together: less padding computed; padding is masked, so the result is the same.
            var ordered = examples.OrderBy(e => e.InputIds.Length).ToList();
            for (int i = 0; i < ordered.Count; i += batchSize)
            {
                using var scope = NewDisposeScope();
                var slice = ordered.Skip(i).Take(batchSize).ToList();
                var (ids, mask, labels) = ClassificationData.Collate(slice, padId, device);
                var logits = classifier.Classify(ids, mask).to(ScalarType.Float32);                // (B, L)
                total += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).item<float>();
                predicted.AddRange(logits.argmax(1).cpu().data<long>().Select(p => (int)p));
                actual.AddRange(slice.Select(ClassificationData.ClassOf));
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return new ClassificationResult(total / examples.Count, ClassificationMetrics.Compute(actual, predicted, numLabels), classifier.Labels);
    }

    /// <summary>Class probabilities (softmax of the logits) for one text, in <see cref="ISequenceClassifier.Labels"/> order.</summary>
    public static float[] Probabilities(ISequenceClassifier classifier, Tokenization.TextTokenizer tokenizer, string text, int maxLength, Device? device = null)
    {
        var model = (nn.Module)classifier;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var guard = inference_mode();
            using var scope = NewDisposeScope();
            var ids = ClassificationData.EncodeText(tokenizer, text, Math.Max(1, maxLength)).Select(i => (long)i).ToArray();
            var input = tensor(ids, [1, ids.Length], ScalarType.Int64);
            var mask = ones_like(input);
            if (device is not null && device.type != DeviceType.CPU) (input, mask) = (input.to(device), mask.to(device));
            var probs = nn.functional.softmax(classifier.Classify(input, mask).to(ScalarType.Float32), 1);   // (1, L)
            return probs[0].cpu().data<float>().ToArray();
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }
}
