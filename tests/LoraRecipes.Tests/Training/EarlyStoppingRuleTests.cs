using LoraRecipes.Recipes;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Training;

/// <summary>The early-stopping rule against hand-computed sequences: patience, min_delta, both modes.</summary>
public sealed class EarlyStoppingRuleTests
{
    [Fact]
    public void LossModeWithMinDeltaCountsOnlyImprovementsLargerThanTheDelta()
    {
        // patience 2, min_delta 0.1, lower is better. By hand:
        //   step 0: 1.00 first → best 1.00                      (0 without improvement)
        //   step 1: 0.95 not < 1.00 - 0.1 = 0.90                 (1)
        //   step 2: 0.85 < 0.90 → best 0.85                      (0)
        //   step 3: 0.80 not < 0.75                              (1)
        //   step 4: 0.76 not < 0.75                              (2) → stop; best stays step 2
        var rule = new EarlyStopping(EvaluationMetric.Loss, patience: 2, minDelta: 0.1);
        var expected = new (double Value, bool Improves, int Without, bool Stop)[]
        {
            (1.00, true, 0, false), (0.95, false, 1, false), (0.85, true, 0, false), (0.80, false, 1, false), (0.76, false, 2, true),
        };
        for (int step = 0; step < expected.Length; step++)
        {
            var e = expected[step];
            Assert.Equal(e.Improves, rule.Observe(step, e.Value));
            Assert.Equal((e.Without, e.Stop), (rule.WithoutImprovement, rule.ShouldStop));
        }
        Assert.Equal((0.85, 2), (rule.BestValue, rule.BestStep));
        Assert.True(rule.LowerIsBetter);
    }

    [Fact]
    public void AccuracyModeIsHigherIsBetterAndAnEqualValueDoesNotImprove()
    {
        // patience 1, min_delta 0 (HF's default threshold): 0.50 → 0.60 improves; 0.60 again is not "> 0.60" → stop.
        var rule = new EarlyStopping(EvaluationMetric.Accuracy, patience: 1, minDelta: 0);
        Assert.False(rule.LowerIsBetter);
        Assert.True(rule.Observe(0, 0.50));
        Assert.True(rule.Observe(10, 0.60));
        Assert.False(rule.ShouldStop);
        Assert.False(rule.Observe(20, 0.60));
        Assert.True(rule.ShouldStop);
        Assert.Equal((0.60, 10), (rule.BestValue, rule.BestStep));
    }

    [Fact]
    public void ALowerAccuracyOrAHigherLossIsNoImprovementAndAnImprovementResetsTheCount()
    {
        var f1 = new EarlyStopping(EvaluationMetric.F1, patience: 3, minDelta: 0.01);
        Assert.True(f1.Observe(0, 0.30));
        Assert.False(f1.Observe(1, 0.20));
        Assert.False(f1.Observe(2, 0.305));   // +0.005 ≤ 0.01
        Assert.Equal(2, f1.WithoutImprovement);
        Assert.True(f1.Observe(3, 0.32));     // +0.02 > 0.01: count back to 0
        Assert.Equal(0, f1.WithoutImprovement);

        var loss = new EarlyStopping(EvaluationMetric.Perplexity, patience: 1, minDelta: 0);
        Assert.True(loss.Observe(0, 10));
        Assert.False(loss.Observe(1, 11));
        Assert.True(loss.ShouldStop);
    }

    [Fact]
    public void NaNNeverImprovesAndWithoutPatienceTheRuleNeverStops()
    {
        var rule = new EarlyStopping(EvaluationMetric.Loss, patience: null, minDelta: 0);
        Assert.False(rule.Observe(0, double.NaN));
        Assert.Null(rule.BestStep);
        Assert.True(rule.Observe(1, 2.0));
        for (int step = 2; step < 50; step++) Assert.False(rule.Observe(step, double.NaN));
        Assert.False(rule.ShouldStop);
        Assert.Equal((2.0, 1), (rule.BestValue, rule.BestStep));
    }

    [Fact]
    public void TheMetricIsReadFromTheEvaluationEventsThatCarryIt()
    {
        var eval = new EvaluationCompleted(4, 2.0, 7.389, 100, new Dictionary<string, double> { ["rouge_l"] = 0.4 });
        var cls = new ClassificationEvaluated(4, 0.7, 0.8, 0.75, ["a", "b"], [[1, 0], [0, 1]], 2);
        Assert.Equal(2.0, new EarlyStopping(EvaluationMetric.Loss, 1, 0).ValueIn(eval));
        Assert.Equal(7.389, new EarlyStopping(EvaluationMetric.Perplexity, 1, 0).ValueIn(eval));
        Assert.Equal(0.4, new EarlyStopping(EvaluationMetric.RougeL, 1, 0).ValueIn(eval));
        Assert.Null(new EarlyStopping(EvaluationMetric.Bleu, 1, 0).ValueIn(eval));
        Assert.Equal(0.8, new EarlyStopping(EvaluationMetric.Accuracy, 1, 0).ValueIn(cls));
        Assert.Equal(0.75, new EarlyStopping(EvaluationMetric.F1, 1, 0).ValueIn(cls));
        Assert.Null(new EarlyStopping(EvaluationMetric.Loss, 1, 0).ValueIn(new StepCompleted(4, 8, 1, 2.0, 0.1, 1, 1, 1)));
        Assert.Equal("rouge_l", EarlyStopping.MetricName(EvaluationMetric.RougeL));
    }
}
