using LoraRecipes.Events;
using LoraRecipes.Recipes;

namespace LoraRecipes.Training;

/// <summary>
/// The early-stopping rule over a run's evaluations, HF's <c>EarlyStoppingCallback</c>: an evaluation improves when its
/// metric beats the best so far by more than <c>min_delta</c> (lower for loss/perplexity, higher for the others); after
/// <c>patience</c> evaluations in a row without improvement the run stops. The best evaluation is also the one
/// <c>evaluation.keep: best</c> keeps.
/// </summary>
/// <remarks>
/// Differences from HF: the step-0 evaluation (the untrained adapter) counts — it is the first best, so a run whose
/// training only ever hurts keeps step 0's weights and stops after <c>patience</c> evaluations; and the kept "best" is
/// the last evaluation that improved by more than <c>min_delta</c> (as Keras' <c>restore_best_weights</c>), where HF's
/// <c>load_best_model_at_end</c> keeps the strictly best value whatever the threshold.
/// </remarks>
public sealed class EarlyStopping(EvaluationMetric metric, int? patience, double minDelta)
{
    /// <summary>The rule of a recipe's <c>evaluation.early_stopping</c>.</summary>
    public EarlyStopping(EarlyStoppingOptions options) : this(options.Metric, options.Patience, options.MinDelta) { }

    public EvaluationMetric Metric { get; } = metric;
    public int? Patience { get; } = patience;
    public double MinDelta { get; } = minDelta;

    /// <summary>Loss and perplexity: lower is better; accuracy, f1 and the generation metrics: higher.</summary>
    public bool LowerIsBetter => Metric is EvaluationMetric.Loss or EvaluationMetric.Perplexity;

    /// <summary>The best value so far and the step of its evaluation; null before the first evaluation.</summary>
    public double? BestValue { get; private set; }
    public int? BestStep { get; private set; }

    /// <summary>Evaluations since the last improvement.</summary>
    public int WithoutImprovement { get; private set; }

    /// <summary>True once <see cref="WithoutImprovement"/> reached the patience.</summary>
    public bool ShouldStop => Patience is { } p && WithoutImprovement >= p;

    /// <summary>Judges the evaluation at <paramref name="step"/>; returns true when it is the new best. A NaN never improves.</summary>
    public bool Observe(int step, double value)
    {
        bool improved = BestValue is not { } best
            ? !double.IsNaN(value)
            : LowerIsBetter ? value < best - MinDelta : value > best + MinDelta;
        if (!improved)
        {
            WithoutImprovement++;
            return false;
        }
        (BestValue, BestStep, WithoutImprovement) = (value, step, 0);
        return true;
    }

    /// <summary>Puts back a checkpoint's state.</summary>
    public void Restore(double? bestValue, int? bestStep, int withoutImprovement) =>
        (BestValue, BestStep, WithoutImprovement) = (bestValue, bestStep, withoutImprovement);

    /// <summary>The metric's value in an evaluation event; null for other events or a metric the event does not carry.</summary>
    public double? ValueIn(TrainingEvent e) => (e, Metric) switch
    {
        (EvaluationCompleted c, EvaluationMetric.Loss) => c.Loss,
        (EvaluationCompleted c, EvaluationMetric.Perplexity) => c.Perplexity,
        (EvaluationCompleted c, _) => c.Generation is { } g && g.TryGetValue(MetricName(Metric), out double v) ? v : null,
        (ClassificationEvaluated c, EvaluationMetric.Loss) => c.Loss,
        (ClassificationEvaluated c, EvaluationMetric.Accuracy) => c.Accuracy,
        (ClassificationEvaluated c, EvaluationMetric.F1) => c.MacroF1,
        _ => null,
    };

    /// <summary>The recipe spelling of a metric (<c>rouge_l</c>).</summary>
    public static string MetricName(EvaluationMetric metric) =>
        YamlNames.ToYaml(metric, ["loss", "perplexity", "accuracy", "f1", "exact_match", "bleu", "rouge_l"]);
}
