using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraRecipes.Artifacts;

/// <summary>
/// <c>adapter_config.json</c> with PEFT's keys. Reading ignores keys we do not know (PEFT adds some every
/// release) but refuses features that would change the function computed (DoRA, per-module ranks).
/// </summary>
public sealed record PeftAdapterConfig
{
    /// <summary>PEFT's <c>TaskType.SEQ_CLS</c>: the model is a <c>*ForSequenceClassification</c> and the head is in <see cref="ModulesToSave"/>.</summary>
    public const string SequenceClassificationTask = "SEQ_CLS";

    public string PeftType { get; init; } = "LORA";
    public string TaskType { get; init; } = "CAUSAL_LM";
    public required string BaseModelNameOrPath { get; init; }
    public required int R { get; init; }
    public required double LoraAlpha { get; init; }
    public double LoraDropout { get; init; }
    /// <summary>A list of names/suffixes, or (as <see cref="TargetModulesRegex"/>) one regex over full paths.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = Array.Empty<string>();
    /// <summary>PEFT's string form of target_modules: <c>re.fullmatch</c> over module paths.</summary>
    public string? TargetModulesRegex { get; init; }
    public string Bias { get; init; } = "none";
    public bool UseRslora { get; init; }
    public IReadOnlyList<string>? ModulesToSave { get; init; }
    public bool FanInFanOut { get; init; }
    public bool InferenceMode { get; init; } = true;
    /// <summary>true (kaiming) or "gaussian".</summary>
    public string InitLoraWeights { get; init; } = "true";
    public string? Revision { get; init; }

    /// <summary>True for <c>task_type: SEQ_CLS</c> adapters.</summary>
    public bool IsSequenceClassification => TaskType == SequenceClassificationTask;

    /// <summary>PEFT's <c>scaling</c>, s in W x + s·B A x: lora_alpha / r, or lora_alpha / √r with rsLoRA (as <c>LoraLinear</c>).</summary>
    public double Scaling => UseRslora ? LoraAlpha / Math.Sqrt(R) : LoraAlpha / R;

    /// <summary>The file text, keys sorted as PEFT writes them.</summary>
    public string ToJson()
    {
        var o = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["alpha_pattern"] = new JsonObject(),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["bias"] = Bias,
            ["fan_in_fan_out"] = FanInFanOut,
            ["inference_mode"] = InferenceMode,
            ["init_lora_weights"] = InitLoraWeights == "true" ? JsonValue.Create(true) : JsonValue.Create(InitLoraWeights),
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["lora_alpha"] = LoraAlpha,
            ["lora_dropout"] = LoraDropout,
            ["modules_to_save"] = ModulesToSave is { Count: > 0 } m ? new JsonArray(m.Select(x => (JsonNode?)x).ToArray()) : null,
            ["peft_type"] = PeftType,
            ["r"] = R,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = Revision,
            ["target_modules"] = TargetModulesRegex is { } regex ? JsonValue.Create(regex) : new JsonArray(TargetModules.Select(x => (JsonNode?)x).ToArray()),
            ["task_type"] = TaskType,
            ["use_dora"] = false,
            ["use_rslora"] = UseRslora,
        };
        var root = new JsonObject();
        foreach (var (k, v) in o) root[k] = v;
        return root.ToJsonString(JsonOptions.Indented);
    }

    /// <summary>Reads a PEFT config; errors name the file and the key.</summary>
    public static PeftAdapterConfig Load(string path)
    {
        if (!File.Exists(path)) throw new AdapterLoadException(path, "adapter_config.json not found; is this an adapter folder?");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new AdapterLoadException(path, "not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new AdapterLoadException(path, $"invalid JSON (line {ex.LineNumber + 1}): {ex.Message}");
        }
        string peftType = Str(root, "peft_type", path) ?? "LORA";
        if (peftType != "LORA") throw new AdapterLoadException(path, $"peft_type is {peftType}; only LORA adapters are supported.");
        if (root["use_dora"] is JsonValue dora && dora.TryGetValue(out bool usesDora) && usesDora)
            throw new AdapterLoadException(path, "use_dora is true; DoRA adapters are not supported.");
        foreach (string key in new[] { "rank_pattern", "alpha_pattern" })
        {
            if (root[key] is JsonObject { Count: > 0 }) throw new AdapterLoadException(path, $"{key} is set; per-module ranks/alphas are not supported.");
        }
        var targets = root["target_modules"];
        return new PeftAdapterConfig
        {
            PeftType = peftType,
            TaskType = Str(root, "task_type", path) ?? "CAUSAL_LM",
            BaseModelNameOrPath = Str(root, "base_model_name_or_path", path) ?? "",
            R = Num(root, "r", path) is { } r && r >= 1 && r == Math.Floor(r) ? (int)r : throw new AdapterLoadException(path, "\"r\" must be a positive integer."),
            LoraAlpha = Num(root, "lora_alpha", path) ?? 8,
            LoraDropout = Num(root, "lora_dropout", path) ?? 0,
            TargetModules = targets is JsonArray a ? a.Select(x => (string?)x ?? "").ToList() : Array.Empty<string>(),
            TargetModulesRegex = targets is JsonValue v && v.GetValueKind() == JsonValueKind.String ? (string?)v : null,
            Bias = Str(root, "bias", path) ?? "none",
            UseRslora = root["use_rslora"] is JsonValue rs && rs.TryGetValue(out bool useRslora) && useRslora,
            ModulesToSave = root["modules_to_save"] is JsonArray ms ? ms.Select(x => (string?)x ?? "").ToList() : null,
            FanInFanOut = root["fan_in_fan_out"] is JsonValue f && f.TryGetValue(out bool fan) && fan,
            Revision = Str(root, "revision", path),
        };
    }

    private static string? Str(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => (string?)v,
        _ => throw new AdapterLoadException(path, $"\"{key}\" must be a string."),
    };

    private static double? Num(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
        _ => throw new AdapterLoadException(path, $"\"{key}\" must be a number."),
    };
}

/// <summary>An adapter folder that cannot be applied; the message names the file and the problem.</summary>
public sealed class AdapterLoadException(string path, string message) : Exception($"{path}: {message}");
