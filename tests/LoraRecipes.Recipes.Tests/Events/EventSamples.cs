using LoraRecipes.Events;

namespace LoraRecipes.Recipes.Tests.Events;

/// <summary>One event of every type, with fixed values: the examples of docs/events.md and the schema snapshot.</summary>
internal static class EventSamples
{
    public static readonly TrainingSummary Summary = new(12, 8.173, 7.601, 7.532, 21.9, 1953.2, 42768, 660602880, SkippedSteps: 1, ResumedFromStep: 6)
    {
        InitialAccuracy = 0.465, FinalAccuracy = 0.912, FinalMacroF1 = 0.91,
    };

    public static IReadOnlyList<TrainingEvent> All { get; } =
    [
        new DiagnosticReported("warning", "LORA024", "recipes/medical.yaml", 6, 21, "data.validation_split has no effect when data.validation names a file", "Remove one of them."),
        new RunStarted("medical-qa", "cpu", 2, 28672, 3979520, ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"], 126, 14, 12, 1, "3f2a9c"),
        new RunResumed(6, 12, "artifacts/medical-qa/checkpoints/step-00000006", false),
        new StepCompleted(1, 12, 0.125, 8.2021, 0.005, 1.297, 1156.4, 1811),
        new StepSkipped(2, "the training loss is NaN", 1, 1),
        new EvaluationCompleted(4, 7.6806, 2165.99, 1753, new Dictionary<string, double> { ["exact_match"] = 0.25, ["rouge_l"] = 0.41 }),
        new ClassificationEvaluated(4, 0.6982, 0.465, 0.3174, ["negative", "positive"], [[53, 0], [61, 0]], 114),
        new SampleGenerated(4, "请介绍一下什么是高血压", "高血压是指动脉血压持续升高。"),
        new CheckpointSaved(6, "artifacts/medical-qa/checkpoints/step-00000006"),
        new EarlyStopped(8, 12, "loss", 7.7012, 7.6806, 4, 2, 0.01),
        new RunWarning("3 record(s) were longer than data.max_length = 128 tokens and were truncated."),
        new RunCompleted("artifacts/medical-qa", Summary),
        new RunFailed(FailureKind.TrainingFailed, FailureCodes.TrainingFailed, "step 2: the training loss is NaN; stopping before it reaches the weights.", 3),
        new LockWaiting("artifacts/medical-qa", 4242, "dotnet-lora run recipes/medical.yaml", "2026-11-30 14:02:11 UTC"),
        new AdapterReused("artifacts/medical-qa", "9f2c4e1a7b3d5c6e8f901a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d", 4242),
    ];
}
