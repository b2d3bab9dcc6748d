using System.Text.Json.Nodes;
using LoraRecipes.Events;

namespace LoraRecipes.Training.Checkpoints;

/// <summary>Logged events ↔ JSON, so a resumed run's metrics.jsonl carries the lines logged before the interruption.</summary>
internal static class MetricsJson
{
    public static JsonArray ToJson(IEnumerable<TrainingEvent> events) => new(events.Select(ToJson).Where(n => n is not null).ToArray());

    public static IEnumerable<TrainingEvent> FromJson(JsonArray array) => array.Select(n => FromJson(n!.AsObject()));

    private static JsonNode? ToJson(TrainingEvent e) => e switch
    {
        StepCompleted s => new JsonObject
        {
            ["type"] = "train", ["step"] = s.Step, ["total_steps"] = s.TotalSteps, ["epoch"] = Num(s.Epoch), ["loss"] = Num(s.Loss),
            ["lr"] = Num(s.LearningRate), ["grad_norm"] = Num(s.GradNorm), ["tokens_per_s"] = Num(s.TokensPerSecond), ["tokens"] = s.Tokens,
        },
        EvaluationCompleted v => new JsonObject
        {
            ["type"] = "eval", ["step"] = v.Step, ["loss"] = Num(v.Loss), ["perplexity"] = Num(v.Perplexity), ["tokens"] = v.Tokens,
            ["generation"] = v.Generation is { } g ? new JsonObject(g.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Num(p.Value)))) : null,
        },
        ClassificationEvaluated c => new JsonObject
        {
            ["type"] = "eval_classification", ["step"] = c.Step, ["loss"] = Num(c.Loss), ["accuracy"] = c.Accuracy, ["f1"] = c.MacroF1,
            ["labels"] = new JsonArray(c.Labels.Select(l => (JsonNode?)l).ToArray()),
            ["confusion_matrix"] = new JsonArray(c.Confusion.Select(row => (JsonNode?)new JsonArray(row.Select(n => (JsonNode?)n).ToArray())).ToArray()),
            ["examples"] = c.Examples,
        },
        SampleGenerated g => new JsonObject { ["type"] = "sample", ["step"] = g.Step, ["prompt"] = g.Prompt, ["completion"] = g.Completion },
        _ => null,
    };

    // Non-finite values (a NaN perplexity of an empty split) are stored as null: JSON has no NaN.
    private static JsonNode? Num(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    private static double Num(JsonNode? node) => node is null ? double.NaN : (double)node;

    private static TrainingEvent FromJson(JsonObject o) => (string?)o["type"] switch
    {
        "train" => new StepCompleted((int)o["step"]!, (int)o["total_steps"]!, Num(o["epoch"]), Num(o["loss"]), Num(o["lr"]),
            Num(o["grad_norm"]), Num(o["tokens_per_s"]), (long)o["tokens"]!),
        "eval" => new EvaluationCompleted((int)o["step"]!, Num(o["loss"]), Num(o["perplexity"]), (long)o["tokens"]!,
            o["generation"] is JsonObject g ? g.ToDictionary(p => p.Key, p => Num(p.Value)) : null),
        "eval_classification" => new ClassificationEvaluated((int)o["step"]!, Num(o["loss"]), (double)o["accuracy"]!, (double)o["f1"]!,
            o["labels"]!.AsArray().Select(l => (string)l!).ToList(),
            o["confusion_matrix"]!.AsArray().Select(row => row!.AsArray().Select(n => (int)n!).ToArray()).ToArray(), (int)o["examples"]!),
        "sample" => new SampleGenerated((int)o["step"]!, (string)o["prompt"]!, (string)o["completion"]!),
        var t => throw new CheckpointException($"unknown metrics entry type '{t}' in checkpoint"),
    };
}
