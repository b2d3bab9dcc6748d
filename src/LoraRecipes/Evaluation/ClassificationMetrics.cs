namespace LoraRecipes.Evaluation;

/// <summary>
/// Accuracy, macro-F1 and the confusion matrix of a set of predictions, as scikit-learn computes them:
/// <c>confusion[actual][predicted]</c>; per-class F1 = 2·TP / (2·TP + FP + FN), 0 where that is 0/0
/// (<c>zero_division=0</c>); macro-F1 is the unweighted mean over the classes that occur in the actual or the
/// predicted labels (sklearn's <c>labels=None</c>).
/// </summary>
public sealed record ClassificationMetrics(double Accuracy, double MacroF1, int[][] Confusion, int Count)
{
    /// <summary>Scores <paramref name="predicted"/> against <paramref name="actual"/> (class ids in 0..numLabels-1).</summary>
    public static ClassificationMetrics Compute(IReadOnlyList<int> actual, IReadOnlyList<int> predicted, int numLabels)
    {
        if (actual.Count != predicted.Count) throw new ArgumentException("actual and predicted differ in length.");
        var confusion = new int[numLabels][];
        for (int i = 0; i < numLabels; i++) confusion[i] = new int[numLabels];
        int correct = 0;
        for (int i = 0; i < actual.Count; i++)
        {
            confusion[actual[i]][predicted[i]]++;
            if (actual[i] == predicted[i]) correct++;
        }
        return new ClassificationMetrics(actual.Count == 0 ? 0 : (double)correct / actual.Count, MacroF1Of(confusion), confusion, actual.Count);
    }

    /// <summary>F1 of each class (0 where it has no true positive, false positive or false negative).</summary>
    public static double[] PerClassF1(int[][] confusion)
    {
        int n = confusion.Length;
        var f1 = new double[n];
        for (int c = 0; c < n; c++)
        {
            int tp = confusion[c][c];
            int fn = confusion[c].Sum() - tp;
            int fp = Enumerable.Range(0, n).Sum(r => confusion[r][c]) - tp;
            f1[c] = 2 * tp + fp + fn == 0 ? 0 : 2.0 * tp / (2 * tp + fp + fn);
        }
        return f1;
    }

    private static double MacroF1Of(int[][] confusion)
    {
        int n = confusion.Length;
        var f1 = PerClassF1(confusion);
        // A class that is neither in the data nor predicted does not count (sklearn averages over unique_labels).
        var present = Enumerable.Range(0, n).Where(c => confusion[c].Sum() + Enumerable.Range(0, n).Sum(r => confusion[r][c]) > 0).ToList();
        return present.Count == 0 ? 0 : present.Average(c => f1[c]);
    }
}
