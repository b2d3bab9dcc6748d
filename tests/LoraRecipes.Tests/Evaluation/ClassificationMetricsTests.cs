using LoraRecipes.Evaluation;

namespace LoraRecipes.Tests.Evaluation;

public sealed class ClassificationMetricsTests
{
    [Fact]
    public void Three_classes_match_hand_computed_accuracy_macro_f1_and_confusion()
    {
        // actual:    0 0 0 1 1 2 2 2 2 1
        // predicted: 0 1 0 1 2 2 2 0 2 1
        int[] actual = [0, 0, 0, 1, 1, 2, 2, 2, 2, 1];
        int[] predicted = [0, 1, 0, 1, 2, 2, 2, 0, 2, 1];
        var m = ClassificationMetrics.Compute(actual, predicted, 3);

        // confusion[actual][predicted]
        Assert.Equal(new[] { new[] { 2, 1, 0 }, new[] { 0, 2, 1 }, new[] { 1, 0, 3 } }, m.Confusion);
        Assert.Equal(7 / 10.0, m.Accuracy, 12);
        // class 0: TP 2, FP 1, FN 1 → F1 4/6; class 1: TP 2, FP 1, FN 1 → 4/6; class 2: TP 3, FP 1, FN 1 → 6/8.
        Assert.Equal(new[] { 4 / 6.0, 4 / 6.0, 6 / 8.0 }, ClassificationMetrics.PerClassF1(m.Confusion));
        Assert.Equal((4 / 6.0 + 4 / 6.0 + 6 / 8.0) / 3, m.MacroF1, 12);
        Assert.Equal(10, m.Count);
    }

    [Fact]
    public void A_class_never_predicted_scores_zero_and_an_absent_class_is_left_out_like_sklearn()
    {
        // Always predicting 0 on a balanced binary set: F1(0) = 2·2/(2·2+2+0) = 2/3, F1(1) = 0 → macro 1/3.
        var constant = ClassificationMetrics.Compute([0, 0, 1, 1], [0, 0, 0, 0], 2);
        Assert.Equal(0.5, constant.Accuracy, 12);
        Assert.Equal(1 / 3.0, constant.MacroF1, 12);

        // Class 2 of 3 appears in neither actual nor predicted: the mean is over classes 0 and 1 only.
        var absent = ClassificationMetrics.Compute([0, 1], [0, 1], 3);
        Assert.Equal(1.0, absent.MacroF1, 12);
        Assert.Equal(new[] { 0, 0, 0 }, absent.Confusion[2]);
    }

    [Fact]
    public void No_examples_give_zeros_not_NaN()
    {
        var m = ClassificationMetrics.Compute([], [], 2);
        Assert.Equal(0, m.Accuracy);
        Assert.Equal(0, m.MacroF1);
    }
}
