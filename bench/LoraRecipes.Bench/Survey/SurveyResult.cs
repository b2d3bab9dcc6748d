using System.Globalization;
using System.Text.Json.Nodes;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Bench.Survey;

/// <summary>
/// One survey row's figures, read from the artifact folder its <c>dotnet lora run</c> wrote (the manifest and the adapter
/// file) and from <c>dotnet lora eval --json</c> on the survey's test file. A failed row keeps what was measured before
/// the failure and says why in <see cref="Error"/>.
/// </summary>
internal sealed record SurveyResult
{
    public required string Name { get; init; }
    public IReadOnlyList<string> Overrides { get; init; } = [];

    /// <summary>Null when the row succeeded; otherwise what failed (training or evaluation) and its message.</summary>
    public string? Error { get; init; }

    public bool Succeeded => Error is null;

    /// <summary>The manifest's method: <c>lora</c>, <c>lora + dora</c>, <c>lora, init pissa</c>, <c>ia3</c>, …</summary>
    public string? Method { get; init; }

    /// <summary>True for a sequence-classification adapter (the manifest has accuracy metrics).</summary>
    public bool Classification { get; init; }

    /// <summary><c>adapter.trainable_parameters</c>: every trained tensor, the classification head's included.</summary>
    public long? TrainableParameters { get; init; }
    public int? Steps { get; init; }

    /// <summary>The trainer's wall time (<c>wall_seconds</c>): model load and data preparation excluded, evaluations included.</summary>
    public double? TrainSeconds { get; init; }
    public double? TokensPerSecond { get; init; }

    /// <summary>The training process's peak working set (<c>peak_memory_bytes</c>); each row runs in a fresh process.</summary>
    public long? PeakMemoryBytes { get; init; }

    /// <summary>Size of <c>adapter_model.safetensors</c>, bytes.</summary>
    public long? AdapterBytes { get; init; }

    public double? InitialValidationLoss { get; init; }
    public double? FinalValidationLoss { get; init; }
    public double? InitialValidationAccuracy { get; init; }
    public double? FinalValidationAccuracy { get; init; }
    public double? FinalValidationF1 { get; init; }

    /// <summary>From <c>dotnet lora eval --json</c> on the survey's test file; null when the survey has none.</summary>
    public double? TestLoss { get; init; }
    public double? TestAccuracy { get; init; }
    public double? TestF1 { get; init; }

    /// <summary>The child processes' wall time (training + evaluation), seconds, model loading included.</summary>
    public double? ProcessSeconds { get; init; }

    /// <summary>/proc/loadavg's 1-minute figure when the row started (the machine's load; null where there is none).</summary>
    public double? LoadAverage { get; init; }

    /// <summary>The figures of the finished artifact in <paramref name="folder"/>.</summary>
    /// <exception cref="ArtifactFormatException">The manifest is unreadable.</exception>
    /// <exception cref="SurveyException">The folder holds no manifest.</exception>
    public static SurveyResult FromArtifact(string name, IReadOnlyList<string> overrides, string folder)
    {
        var manifest = LoraManifest.TryRead(folder) ?? throw new SurveyException($"{folder}: the run wrote no {ArtifactFiles.Manifest}.");
        var metrics = manifest.Metrics;
        double? Metric(string key) => metrics.TryGetValue(key, out var v) ? v : null;
        string weights = Path.Combine(folder, ArtifactFiles.AdapterWeights);
        return new SurveyResult
        {
            Name = name,
            Overrides = overrides,
            Method = Describe(manifest.Adapter?.Method),
            Classification = metrics.ContainsKey("final_validation_accuracy") || manifest.Labels is not null,
            TrainableParameters = manifest.Adapter?.TrainableParameters,
            Steps = manifest.Steps,
            TrainSeconds = manifest.WallSeconds,
            TokensPerSecond = manifest.TokensPerSecond,
            PeakMemoryBytes = manifest.PeakMemoryBytes,
            AdapterBytes = File.Exists(weights) ? new FileInfo(weights).Length : null,
            InitialValidationLoss = Metric("initial_validation_loss"),
            FinalValidationLoss = Metric("final_validation_loss"),
            InitialValidationAccuracy = Metric("initial_validation_accuracy"),
            FinalValidationAccuracy = Metric("final_validation_accuracy"),
            FinalValidationF1 = Metric("final_validation_f1"),
        };
    }

    /// <summary>
    /// This result with the test metrics of <c>dotnet lora eval --json</c>'s output (its last line is one JSON object:
    /// <c>{"loss", "accuracy", "f1", …}</c> for a classifier, <c>{"loss", "perplexity", …}</c> for a causal LM).
    /// </summary>
    /// <exception cref="SurveyException">The output ends with no JSON object.</exception>
    public SurveyResult WithEvaluation(string evalOutput)
    {
        string? last = evalOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        JsonObject? json = null;
        try
        {
            json = last is null ? null : JsonNode.Parse(last) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
        }
        if (json is null) throw new SurveyException($"eval printed no JSON object on its last line: {last ?? "(nothing)"}");
        double? Read(string key) => json[key] is JsonValue v && v.TryGetValue<double>(out double d) ? d : null;
        return this with { TestLoss = Read("loss"), TestAccuracy = Read("accuracy"), TestF1 = Read("f1") };
    }

    /// <summary>A row that failed before an artifact existed.</summary>
    public static SurveyResult Failed(string name, IReadOnlyList<string> overrides, string error) => new() { Name = name, Overrides = overrides, Error = error };

    /// <summary>The method as the table shows it.</summary>
    private static string Describe(ManifestMethod? method)
    {
        if (method is null) return "lora";
        var parts = new List<string> { method.Name };
        if (method.UseDora == true) parts[0] += " + dora";
        if (method.Init is { } init && init != "default") parts.Add($"init {init}");
        return string.Join(", ", parts);
    }

    /// <summary>The row as a JSON object (snake_case; nulls kept so every row has every key).</summary>
    public JsonObject ToJson()
    {
        JsonNode? N(double? v) => v is { } d && double.IsFinite(d) ? JsonValue.Create(d) : null;
        JsonNode? L(long? v) => v is { } l ? JsonValue.Create(l) : null;
        return new JsonObject
        {
            ["name"] = Name,
            ["overrides"] = new JsonArray(Overrides.Select(o => (JsonNode?)JsonValue.Create(o)).ToArray()),
            ["succeeded"] = Succeeded,
            ["error"] = Error,
            ["method"] = Method,
            ["task"] = Succeeded || Method is not null ? (Classification ? "sequence-classification" : "causal-lm") : null,
            ["trainable_parameters"] = L(TrainableParameters),
            ["steps"] = Steps is { } s ? JsonValue.Create(s) : null,
            ["train_seconds"] = N(TrainSeconds),
            ["tokens_per_second"] = N(TokensPerSecond),
            ["peak_memory_bytes"] = L(PeakMemoryBytes),
            ["adapter_bytes"] = L(AdapterBytes),
            ["initial_validation_loss"] = N(InitialValidationLoss),
            ["final_validation_loss"] = N(FinalValidationLoss),
            ["initial_validation_accuracy"] = N(InitialValidationAccuracy),
            ["final_validation_accuracy"] = N(FinalValidationAccuracy),
            ["final_validation_f1"] = N(FinalValidationF1),
            ["test_loss"] = N(TestLoss),
            ["test_accuracy"] = N(TestAccuracy),
            ["test_f1"] = N(TestF1),
            ["process_seconds"] = N(ProcessSeconds),
            ["load_average"] = N(LoadAverage),
        };
    }

    internal static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
