using System.Text.Json.Serialization;

namespace LoraRecipes.Events;

/// <summary>
/// Something a front end may render: a run's progress as a stream of typed events. The trainer emits them; the CLI shows them
/// to people, writes them as NDJSON (<c>--log-format json</c>, <c>--log-file</c>), and the MSBuild task reads that stream back
/// into these very types. Each line carries its <c>type</c> (the discriminators below, never renamed) and the schema version
/// <c>v</c>; see docs/events.md and <see cref="EventJson"/>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(RunStarted), "run_started")]
[JsonDerivedType(typeof(RunResumed), "run_resumed")]
[JsonDerivedType(typeof(StepCompleted), "step")]
[JsonDerivedType(typeof(StepSkipped), "step_skipped")]
[JsonDerivedType(typeof(EvaluationCompleted), "eval")]
[JsonDerivedType(typeof(ClassificationEvaluated), "eval_classification")]
[JsonDerivedType(typeof(SampleGenerated), "sample")]
[JsonDerivedType(typeof(CheckpointSaved), "checkpoint")]
[JsonDerivedType(typeof(RunWarning), "warning")]
[JsonDerivedType(typeof(RunCompleted), "run_completed")]
[JsonDerivedType(typeof(DiagnosticReported), "diagnostic")]
[JsonDerivedType(typeof(RunFailed), "run_failed")]
[JsonDerivedType(typeof(LockWaiting), "lock_waiting")]
[JsonDerivedType(typeof(AdapterReused), "adapter_reused")]
[JsonDerivedType(typeof(EarlyStopped), "early_stopped")]
public abstract record TrainingEvent
{
    /// <summary>The event schema version (<see cref="EventJson.SchemaVersion"/>), written on every line as <c>v</c>.</summary>
    [JsonPropertyName("v")]
    [JsonPropertyOrder(-1)]
    public int SchemaVersion => EventJson.SchemaVersion;
}

/// <summary>Setup done: what is about to be trained.</summary>
public sealed record RunStarted(string Name, string Device, int Threads, long TrainableParameters, long TotalParameters,
    IReadOnlyList<string> TargetModules, int TrainExamples, int ValidationExamples, int TotalSteps, int Epochs, string Fingerprint) : TrainingEvent;

/// <summary>One optimizer update finished.</summary>
public sealed record StepCompleted(int Step, int TotalSteps, double Epoch, double Loss, double LearningRate,
    double GradNorm, double TokensPerSecond, long Tokens) : TrainingEvent;

/// <summary>Validation metrics at a step (step 0 is before training).</summary>
/// <remarks><see cref="Generation"/>: the generation metrics listed in evaluation.metrics (exact_match, bleu, rouge_l) over
/// greedy generations on the first validation records; null when none is listed.</remarks>
public sealed record EvaluationCompleted(int Step, double Loss, double Perplexity, long Tokens, IReadOnlyDictionary<string, double>? Generation = null) : TrainingEvent;

/// <summary>
/// Validation metrics of a sequence-classification run at a step (step 0 is before training): mean cross-entropy,
/// accuracy, macro-F1 and the confusion matrix (<c>Confusion[actual][predicted]</c>, classes in <c>Labels</c> order).
/// </summary>
public sealed record ClassificationEvaluated(int Step, double Loss, double Accuracy, double MacroF1, IReadOnlyList<string> Labels,
    int[][] Confusion, int Examples) : TrainingEvent;

/// <summary>A sample generation (or classification) for one of <c>evaluation.samples</c>.</summary>
public sealed record SampleGenerated(int Step, string Prompt, string Completion) : TrainingEvent;

/// <summary>A non-fatal note (dropped records, clamped settings).</summary>
public sealed record RunWarning(string Message) : TrainingEvent;

/// <summary>Training continues from a checkpoint instead of from scratch.</summary>
public sealed record RunResumed(int Step, int TotalSteps, string Checkpoint, bool FingerprintDiffers) : TrainingEvent;

/// <summary>A resumable checkpoint is on disk.</summary>
public sealed record CheckpointSaved(int Step, string Folder) : TrainingEvent;

/// <summary>Under <c>on_nan: skip_step</c>, an update was dropped because its loss or gradient was not finite.</summary>
public sealed record StepSkipped(int Step, string Reason, int ConsecutiveSkipped, int TotalSkipped) : TrainingEvent;

/// <summary>
/// <c>evaluation.early_stopping</c>: <c>Patience</c> evaluations in a row did not beat the best <c>Metric</c> value
/// (<c>BestValue</c>, at <c>BestStep</c>) by more than <c>MinDelta</c>; training stops at <c>Step</c> (of <c>TotalSteps</c>).
/// <c>Value</c> is the last evaluation's.
/// </summary>
public sealed record EarlyStopped(int Step, int TotalSteps, string Metric, double Value, double BestValue, int BestStep, int Patience, double MinDelta) : TrainingEvent;

/// <summary>Artifacts written.</summary>
public sealed record RunCompleted(string OutputDirectory, TrainingSummary Summary) : TrainingEvent;

/// <summary>The final figures of a run (also in the manifest).</summary>
public sealed record TrainingSummary(int Steps, double? InitialValidationLoss, double? FinalValidationLoss, double? FinalTrainLoss,
    double WallSeconds, double TokensPerSecond, long TrainedTokens, long PeakMemoryBytes, int SkippedSteps = 0, int? ResumedFromStep = null)
{
    /// <summary>Sequence classification: validation accuracy before training (step 0) and at the end.</summary>
    public double? InitialAccuracy { get; init; }
    public double? FinalAccuracy { get; init; }
    /// <summary>Sequence classification: validation macro-F1 at the end.</summary>
    public double? FinalMacroF1 { get; init; }
}
