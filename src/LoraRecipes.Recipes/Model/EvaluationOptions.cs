namespace LoraRecipes.Recipes;

/// <summary>
/// <c>evaluation:</c> — validation during training. <c>every</c> is split into <see cref="Schedule"/>
/// (epoch | steps | never) and <see cref="EverySteps"/>, which is set only for <see cref="EvaluationSchedule.Steps"/>.
/// </summary>
public sealed record EvaluationOptions
{
    /// <summary><c>every</c>: <c>epoch</c>, <c>never</c>, or a number (then <see cref="EvaluationSchedule.Steps"/>).</summary>
    public required EvaluationSchedule Schedule { get; init; }

    /// <summary><c>every</c> as a step count when <see cref="Schedule"/> is <see cref="EvaluationSchedule.Steps"/>; otherwise null.</summary>
    public required int? EverySteps { get; init; }

    /// <summary><c>metrics</c>: metrics computed on the validation data.</summary>
    public required ValueList<EvaluationMetric> Metrics { get; init; }

    /// <summary><c>samples</c>: prompts generated and logged after each evaluation.</summary>
    public required ValueList<string> Samples { get; init; }

    /// <summary><c>keep</c>: the weights the artifact holds — the end of training, or the best evaluation's.</summary>
    public KeepWeights Keep { get; init; } = KeepWeights.Last;

    /// <summary><c>early_stopping</c>: the metric that judges evaluations, and when a run stops early.</summary>
    public EarlyStoppingOptions EarlyStopping { get; init; } = new();

    /// <summary>True when evaluation never runs.</summary>
    public bool Never => Schedule == EvaluationSchedule.Never;
}
