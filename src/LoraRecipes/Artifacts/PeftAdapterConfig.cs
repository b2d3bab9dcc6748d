using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraRecipes.Artifacts;

/// <summary>
/// <c>adapter_config.json</c> with PEFT's keys, for <c>peft_type</c> LORA (with DoRA) and IA3. Reading ignores keys we
/// do not know (PEFT adds some every release) but refuses features that would change the function computed
/// (per-module ranks, other PEFT types).
/// </summary>
public sealed partial record PeftAdapterConfig
{
    /// <summary>PEFT's <c>TaskType.SEQ_CLS</c>: the model is a <c>*ForSequenceClassification</c> and the head is in <see cref="ModulesToSave"/>.</summary>
    public const string SequenceClassificationTask = "SEQ_CLS";

    /// <summary>PEFT's <c>PeftType.IA3</c>.</summary>
    public const string Ia3Type = "IA3";

    /// <summary>Ours, not PEFT's: bottleneck adapters (<c>method: bottleneck_adapter</c>). PEFT refuses this type; our loader reads it.</summary>
    public const string BottleneckType = Lora.BottleneckLinear.Type;

    /// <summary>Ours, not PEFT's: a freeze delta (<c>method: freeze</c>), whole tensors under the base checkpoint's own names. PEFT refuses this type; our loader reads it.</summary>
    public const string FreezeType = "FREEZE";

    public string PeftType { get; init; } = "LORA";
    /// <summary>True for freeze deltas (ours; PEFT cannot load them): the weights replace base tensors of the same name.</summary>
    public bool IsFreeze => PeftType == FreezeType;
    /// <summary>Freeze: the blocks whose tensors the delta holds (0-based, from the input side).</summary>
    public IReadOnlyList<int> LayersToTransform { get; init; } = Array.Empty<int>();
    /// <summary><c>num_layers</c>: the base model's block count (freeze and the prompt-learning types write it).</summary>
    public int NumLayers { get; init; }
    /// <summary>Freeze: the trained sub-modules of each block (<c>all</c> or names), the modules outside the blocks, and whether the head trained.</summary>
    public IReadOnlyList<string> TrainableModules { get; init; } = Array.Empty<string>();
    public IReadOnlyList<string> ExtraModules { get; init; } = Array.Empty<string>();
    public bool TrainHead { get; init; }
    /// <summary>LORA: DoRA (<c>use_dora</c>); the adapter holds <c>lora_magnitude_vector.weight</c> per module.</summary>
    public bool UseDora { get; init; }
    /// <summary>IA3: the targets whose input is scaled, as names/suffixes…</summary>
    public IReadOnlyList<string> FeedforwardModules { get; init; } = Array.Empty<string>();
    /// <summary>…or as one regex over full paths (PEFT's string form).</summary>
    public string? FeedforwardModulesRegex { get; init; }
    /// <summary>True for IA3 adapters.</summary>
    public bool IsIa3 => PeftType == Ia3Type;
    /// <summary>True for bottleneck adapters (ours; PEFT cannot load them).</summary>
    public bool IsBottleneck => PeftType == BottleneckType;
    /// <summary>Bottleneck: the non-linearity (relu, gelu, swish, tanh).</summary>
    public string NonLinearity { get; init; } = "relu";
    /// <summary>Bottleneck: where the adapters sit (ffn, attention, both) — informative; the module paths are in target_modules.</summary>
    public string? Placement { get; init; }
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
        if (IsIa3) return Ia3Json();
        if (IsBottleneck) return BottleneckJson();
        if (IsFreeze) return FreezeJson();
        if (IsPromptLearning) return PromptLearningJson();
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
            ["use_dora"] = UseDora,
            ["use_rslora"] = UseRslora,
        };
        var root = new JsonObject();
        foreach (var (k, v) in o) root[k] = v;
        return root.ToJsonString(JsonOptions.Indented);
    }

    /// <summary>PEFT's IA3Config keys (<c>tuners/ia3/config.py</c>), sorted.</summary>
    private string Ia3Json()
    {
        static JsonNode Modules(string? regex, IReadOnlyList<string> names) =>
            regex is { } r ? JsonValue.Create(r) : new JsonArray(names.Select(x => (JsonNode?)x).ToArray());
        var o = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["exclude_modules"] = null,
            ["fan_in_fan_out"] = FanInFanOut,
            ["feedforward_modules"] = Modules(FeedforwardModulesRegex, FeedforwardModules),
            ["inference_mode"] = InferenceMode,
            ["init_ia3_weights"] = true,
            ["modules_to_save"] = ModulesToSave is { Count: > 0 } m ? new JsonArray(m.Select(x => (JsonNode?)x).ToArray()) : null,
            ["peft_type"] = PeftType,
            ["revision"] = Revision,
            ["target_modules"] = Modules(TargetModulesRegex, TargetModules),
            ["task_type"] = TaskType,
        };
        var root = new JsonObject();
        foreach (var (k, v) in o) root[k] = v;
        return root.ToJsonString(JsonOptions.Indented);
    }

    /// <summary>
    /// Our bottleneck adapter config, keys sorted like PEFT's: <c>r</c> is the bottleneck width, <c>target_modules</c> one
    /// regex over the wrapped output projections' full paths; the weights are <c>adapter_down</c>/<c>adapter_up</c>.
    /// </summary>
    private string BottleneckJson()
    {
        var o = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["bottleneck_size"] = R,
            ["dropout"] = LoraDropout,
            ["inference_mode"] = InferenceMode,
            ["modules_to_save"] = ModulesToSave is { Count: > 0 } m ? new JsonArray(m.Select(x => (JsonNode?)x).ToArray()) : null,
            ["non_linearity"] = NonLinearity,
            ["peft_type"] = PeftType,
            ["placement"] = Placement,
            ["residual"] = "h + adapter_up(non_linearity(adapter_down(h))), h = the target module's output",
            ["target_modules"] = TargetModulesRegex is { } regex ? JsonValue.Create(regex) : new JsonArray(TargetModules.Select(x => (JsonNode?)x).ToArray()),
            ["task_type"] = TaskType,
        };
        var root = new JsonObject();
        foreach (var (k, v) in o) root[k] = v;
        return root.ToJsonString(JsonOptions.Indented);
    }

    /// <summary>
    /// Our freeze delta config, keys sorted like PEFT's: the blocks (<c>layers_to_transform</c>, of <c>num_layers</c>) and
    /// sub-modules that trained; adapter_model.safetensors holds those tensors under the base checkpoint's own names.
    /// </summary>
    private string FreezeJson()
    {
        static JsonArray List<T>(IEnumerable<T> items) => new(items.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        var o = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["extra_modules"] = List(ExtraModules),
            ["inference_mode"] = InferenceMode,
            ["layers_to_transform"] = List(LayersToTransform),
            ["modules_to_save"] = ModulesToSave is { Count: > 0 } m ? List(m) : null,
            ["num_layers"] = NumLayers,
            ["peft_type"] = PeftType,
            ["task_type"] = TaskType,
            ["tensors"] = "whole tensors under the base checkpoint's own names; each replaces the base tensor of that name",
            ["train_head"] = TrainHead,
            ["trainable_modules"] = List(TrainableModules),
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
        if (peftType is PromptTuningType or PTuningType or PrefixTuningType) return LoadPromptLearning(root, peftType, path);
        if (peftType is not ("LORA" or Ia3Type or BottleneckType or FreezeType))
            throw new AdapterLoadException(path, $"peft_type is {peftType}; only LORA (with or without DoRA), IA3, PROMPT_TUNING, P_TUNING, PREFIX_TUNING and our BOTTLENECK_ADAPTER and FREEZE adapters are supported.");
        var targets = root["target_modules"];
        if (peftType == FreezeType)
        {
            static List<string> Names(JsonNode? n) => n is JsonArray a ? a.Select(x => (string?)x ?? "").ToList() : [];
            return new PeftAdapterConfig
            {
                PeftType = peftType,
                TaskType = Str(root, "task_type", path) ?? "CAUSAL_LM",
                BaseModelNameOrPath = Str(root, "base_model_name_or_path", path) ?? "",
                R = 0,
                LoraAlpha = 0,
                LayersToTransform = root["layers_to_transform"] is JsonArray layers
                    ? layers.Select(x => x is JsonValue v && v.TryGetValue(out int i) ? i : throw new AdapterLoadException(path, "\"layers_to_transform\" must list block indices.")).ToList()
                    : [],
                NumLayers = (int)(Num(root, "num_layers", path) ?? 0),
                TrainableModules = Names(root["trainable_modules"]),
                ExtraModules = Names(root["extra_modules"]),
                TrainHead = root["train_head"] is JsonValue th && th.TryGetValue(out bool head) && head,
                ModulesToSave = root["modules_to_save"] is JsonArray fms ? fms.Select(x => (string?)x ?? "").ToList() : null,
                Revision = Str(root, "revision", path),
            };
        }
        if (peftType == BottleneckType)
        {
            string activation = Str(root, "non_linearity", path) ?? "relu";
            if (activation is not ("relu" or "gelu" or "swish" or "tanh"))
                throw new AdapterLoadException(path, $"\"non_linearity\" is {activation}; supported: relu, gelu, swish, tanh.");
            return new PeftAdapterConfig
            {
                PeftType = peftType,
                TaskType = Str(root, "task_type", path) ?? "CAUSAL_LM",
                BaseModelNameOrPath = Str(root, "base_model_name_or_path", path) ?? "",
                R = Num(root, "bottleneck_size", path) is { } m && m >= 1 && m == Math.Floor(m) ? (int)m : throw new AdapterLoadException(path, "\"bottleneck_size\" must be a positive integer."),
                LoraAlpha = 0,
                LoraDropout = Num(root, "dropout", path) ?? 0,
                NonLinearity = activation,
                Placement = Str(root, "placement", path),
                TargetModules = targets is JsonArray ba ? ba.Select(x => (string?)x ?? "").ToList() : Array.Empty<string>(),
                TargetModulesRegex = targets is JsonValue bv && bv.GetValueKind() == JsonValueKind.String ? (string?)bv : null,
                ModulesToSave = root["modules_to_save"] is JsonArray bms ? bms.Select(x => (string?)x ?? "").ToList() : null,
                Revision = Str(root, "revision", path),
            };
        }
        if (peftType == Ia3Type)
        {
            var feedforward = root["feedforward_modules"];
            return new PeftAdapterConfig
            {
                PeftType = peftType,
                TaskType = Str(root, "task_type", path) ?? "CAUSAL_LM",
                BaseModelNameOrPath = Str(root, "base_model_name_or_path", path) ?? "",
                R = 0,
                LoraAlpha = 0,
                TargetModules = targets is JsonArray ta ? ta.Select(x => (string?)x ?? "").ToList() : Array.Empty<string>(),
                TargetModulesRegex = targets is JsonValue tv && tv.GetValueKind() == JsonValueKind.String ? (string?)tv : null,
                FeedforwardModules = feedforward is JsonArray fa ? fa.Select(x => (string?)x ?? "").ToList() : Array.Empty<string>(),
                FeedforwardModulesRegex = feedforward is JsonValue fv && fv.GetValueKind() == JsonValueKind.String ? (string?)fv : null,
                ModulesToSave = root["modules_to_save"] is JsonArray ms3 ? ms3.Select(x => (string?)x ?? "").ToList() : null,
                FanInFanOut = root["fan_in_fan_out"] is JsonValue f3 && f3.TryGetValue(out bool fan3) && fan3,
                Revision = Str(root, "revision", path),
            };
        }
        foreach (string key in new[] { "rank_pattern", "alpha_pattern" })
        {
            if (root[key] is JsonObject { Count: > 0 }) throw new AdapterLoadException(path, $"{key} is set; per-module ranks/alphas are not supported.");
        }
        return new PeftAdapterConfig
        {
            PeftType = peftType,
            UseDora = root["use_dora"] is JsonValue dora && dora.TryGetValue(out bool usesDora) && usesDora,
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
