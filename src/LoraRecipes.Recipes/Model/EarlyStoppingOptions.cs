namespace LoraRecipes.Recipes;

/// <summary>
/// <c>evaluation.early_stopping:</c> — stop when the validation metric stops improving (HF's <c>EarlyStoppingCallback</c>),
/// and the metric <c>evaluation.keep: best</c> judges by (HF's <c>metric_for_best_model</c>).
/// </summary>
public sealed record EarlyStoppingOptions
{
    /// <summary><c>metric</c>: loss and perplexity are better lower, the others higher (<see cref="LowerIsBetter"/>).</summary>
    public EvaluationMetric Metric { get; init; } = EvaluationMetric.Loss;

    /// <summary><c>patience</c>: evaluations in a row without improvement that stop the run; null: never stop early.</summary>
    public int? Patience { get; init; }

    /// <summary><c>min_delta</c>: an evaluation improves only when it beats the best by more than this.</summary>
    public double MinDelta { get; init; }

    /// <summary>True when early stopping is on.</summary>
    public bool Enabled => Patience is not null;

    /// <summary>The mode implied by the metric: true for loss and perplexity (HF's <c>greater_is_better: false</c>).</summary>
    public bool LowerIsBetter => Metric is EvaluationMetric.Loss or EvaluationMetric.Perplexity;
}
