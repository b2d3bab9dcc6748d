using System.Text.Json;
using System.Text.Json.Nodes;
using LoraRecipes.Models;
using LoraRecipes.Recipes;

namespace LoraRecipes.Artifacts;

/// <summary>PEFT's PromptLearningConfig keys: PROMPT_TUNING (<c>PromptTuningConfig</c>), P_TUNING (<c>PromptEncoderConfig</c>) and PREFIX_TUNING (<c>PrefixTuningConfig</c>).</summary>
public sealed partial record PeftAdapterConfig
{
    /// <summary>PEFT's <c>PeftType.PROMPT_TUNING</c>.</summary>
    public const string PromptTuningType = Lora.PromptEmbedding.Type;

    /// <summary>PEFT's <c>PeftType.P_TUNING</c>.</summary>
    public const string PTuningType = Lora.PromptEncoder.Type;

    /// <summary>PEFT's <c>PeftType.PREFIX_TUNING</c>.</summary>
    public const string PrefixTuningType = Lora.PrefixEncoder.Type;

    /// <summary>True for PROMPT_TUNING, P_TUNING and PREFIX_TUNING adapters: one <c>prompt_embeddings</c> tensor, nothing merges.</summary>
    public bool IsPromptLearning => PeftType is PromptTuningType or PTuningType or PrefixTuningType;

    /// <summary>True for PREFIX_TUNING: <c>prompt_embeddings</c> holds every layer's past keys and values, (n, num_layers · 2 · token_dim).</summary>
    public bool IsPrefixTuning => PeftType == PrefixTuningType;

    /// <summary>PREFIX_TUNING: <c>prefix_projection</c> (the MLP re-parameterisation trained; the saved table is its output either way).</summary>
    public bool PrefixProjection { get; init; }

    /// <summary>n, <c>num_virtual_tokens</c>.</summary>
    public int NumVirtualTokens { get; init; }

    /// <summary><c>token_dim</c>: the model's hidden size (PREFIX_TUNING: key/value heads × head width, PEFT's GQA rule).</summary>
    public int TokenDim { get; init; }

    /// <summary><c>num_transformer_submodules</c>: 1 for decoder-only and encoder-only models (2 for encoder-decoders, which we do not load).</summary>
    public int NumTransformerSubmodules { get; init; } = 1;

    /// <summary><c>num_attention_heads</c> of the base model (PREFIX_TUNING: its key/value heads).</summary>
    public int NumAttentionHeads { get; init; }


    /// <summary>PROMPT_TUNING: <c>prompt_tuning_init</c> (RANDOM or TEXT).</summary>
    public string PromptTuningInit { get; init; } = "RANDOM";

    /// <summary>PROMPT_TUNING: <c>prompt_tuning_init_text</c>.</summary>
    public string? PromptTuningInitText { get; init; }

    /// <summary>PROMPT_TUNING: <c>tokenizer_name_or_path</c> (PEFT requires it with TEXT init).</summary>
    public string? TokenizerNameOrPath { get; init; }

    /// <summary>P_TUNING: <c>encoder_reparameterization_type</c> (MLP or LSTM).</summary>
    public string EncoderReparameterizationType { get; init; } = "MLP";

    /// <summary>P_TUNING: <c>encoder_hidden_size</c>.</summary>
    public int EncoderHiddenSize { get; init; }

    /// <summary>P_TUNING: <c>encoder_num_layers</c>.</summary>
    public int EncoderNumLayers { get; init; } = 2;

    /// <summary>P_TUNING: <c>encoder_dropout</c>.</summary>
    public double EncoderDropout { get; init; }

    /// <summary>The config PEFT writes for the plan's prompt_tuning / p_tuning run on a model of <paramref name="model"/>.</summary>
    public static PeftAdapterConfig ForPromptLearning(TrainingPlan plan, ModelConfig model, IReadOnlyList<string>? modulesToSave)
    {
        var recipe = plan.Recipe;
        string baseModel = plan.BaseModel.Kind == BaseModelKind.Folder ? plan.BaseModel.Path! : plan.BaseModel.ToString();
        bool pTuning = recipe.Method == AdapterMethod.PTuning;
        if (recipe.Method == AdapterMethod.PrefixTuning) return ForPrefixTuning(plan, model, modulesToSave, baseModel);
        bool text = !pTuning && recipe.PromptTuning.Init == Recipes.PromptTuningInit.Text;
        return new PeftAdapterConfig
        {
            PeftType = pTuning ? PTuningType : PromptTuningType,
            TaskType = recipe.Task == Recipes.TaskType.SequenceClassification ? SequenceClassificationTask : "CAUSAL_LM",
            BaseModelNameOrPath = baseModel,
            R = 0,
            LoraAlpha = 0,
            NumVirtualTokens = pTuning ? recipe.PTuning.NumVirtualTokens : recipe.PromptTuning.NumVirtualTokens,
            TokenDim = model.HiddenSize,
            NumAttentionHeads = model.NumAttentionHeads,
            NumLayers = model.NumHiddenLayers,
            PromptTuningInit = text ? "TEXT" : "RANDOM",
            PromptTuningInitText = text ? recipe.PromptTuning.InitText : null,
            TokenizerNameOrPath = text ? baseModel : null,
            EncoderReparameterizationType = recipe.PTuning.Encoder == PromptEncoderType.Lstm ? "LSTM" : "MLP",
            EncoderHiddenSize = recipe.PTuning.EncoderHiddenSize ?? model.HiddenSize,
            EncoderNumLayers = recipe.PTuning.EncoderNumLayers,
            EncoderDropout = recipe.PTuning.EncoderDropout,
            ModulesToSave = modulesToSave is { Count: > 0 } ? modulesToSave : null,
        };
    }

    /// <summary>
    /// PREFIX_TUNING sized as PEFT's <c>_prepare_prompt_learning_config</c> does for a model with key/value heads:
    /// token_dim = hidden / heads · kv_heads (here kv_heads · head_dim, the same unless head_dim is explicit) and
    /// num_attention_heads = kv_heads; encoder_hidden_size defaults to that token_dim.
    /// </summary>
    private static PeftAdapterConfig ForPrefixTuning(TrainingPlan plan, ModelConfig model, IReadOnlyList<string>? modulesToSave, string baseModel)
    {
        var recipe = plan.Recipe;
        int tokenDim = model.NumKeyValueHeads * model.HeadDim;
        return new PeftAdapterConfig
        {
            PeftType = PrefixTuningType,
            TaskType = recipe.Task == Recipes.TaskType.SequenceClassification ? SequenceClassificationTask : "CAUSAL_LM",
            BaseModelNameOrPath = baseModel,
            R = 0,
            LoraAlpha = 0,
            NumVirtualTokens = recipe.PrefixTuning.NumVirtualTokens,
            TokenDim = tokenDim,
            NumAttentionHeads = model.NumKeyValueHeads,
            NumLayers = model.NumHiddenLayers,
            PrefixProjection = recipe.PrefixTuning.PrefixProjection,
            EncoderHiddenSize = recipe.PrefixTuning.EncoderHiddenSize ?? tokenDim,
            ModulesToSave = modulesToSave is { Count: > 0 } ? modulesToSave : null,
        };
    }

    /// <summary>PEFT's keys for the three types, sorted as PEFT writes them.</summary>
    private string PromptLearningJson()
    {
        var o = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["inference_mode"] = InferenceMode,
            ["modules_to_save"] = ModulesToSave is { Count: > 0 } m ? new JsonArray(m.Select(x => (JsonNode?)x).ToArray()) : null,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_layers"] = NumLayers,
            ["num_transformer_submodules"] = NumTransformerSubmodules,
            ["num_virtual_tokens"] = NumVirtualTokens,
            ["peft_type"] = PeftType,
            ["revision"] = Revision,
            ["task_type"] = TaskType,
            ["token_dim"] = TokenDim,
        };
        if (PeftType == PrefixTuningType)
        {
            o["encoder_hidden_size"] = EncoderHiddenSize;
            o["prefix_projection"] = PrefixProjection;
        }
        else if (PeftType == PromptTuningType)
        {
            o["prompt_tuning_init"] = PromptTuningInit;
            o["prompt_tuning_init_text"] = PromptTuningInitText;
            o["tokenizer_kwargs"] = null;
            o["tokenizer_name_or_path"] = TokenizerNameOrPath;
        }
        else
        {
            o["encoder_dropout"] = EncoderDropout;
            o["encoder_hidden_size"] = EncoderHiddenSize;
            o["encoder_num_layers"] = EncoderNumLayers;
            o["encoder_reparameterization_type"] = EncoderReparameterizationType;
        }
        var root = new JsonObject();
        foreach (var (k, v) in o) root[k] = v;
        return root.ToJsonString(JsonOptions.Indented);
    }

    /// <summary>Reads a PROMPT_TUNING, P_TUNING or PREFIX_TUNING config; encoder-decoder configs (two transformer submodules) are refused.</summary>
    private static PeftAdapterConfig LoadPromptLearning(JsonObject root, string peftType, string path)
    {
        int Positive(string key) => Num(root, key, path) is { } v && v >= 1 && v == Math.Floor(v) && v <= int.MaxValue ? (int)v
            : throw new AdapterLoadException(path, $"\"{key}\" must be a positive integer.");
        int submodules = Num(root, "num_transformer_submodules", path) is { } s ? (int)s : 1;
        if (submodules != 1)
            throw new AdapterLoadException(path, $"num_transformer_submodules is {submodules}: an encoder-decoder prompt adapter; only decoder-only and encoder-only models load here.");
        return new PeftAdapterConfig
        {
            PeftType = peftType,
            TaskType = Str(root, "task_type", path) ?? "CAUSAL_LM",
            BaseModelNameOrPath = Str(root, "base_model_name_or_path", path) ?? "",
            R = 0,
            LoraAlpha = 0,
            NumVirtualTokens = Positive("num_virtual_tokens"),
            TokenDim = Num(root, "token_dim", path) is { } d ? (int)d : 0,
            NumAttentionHeads = Num(root, "num_attention_heads", path) is { } h ? (int)h : 0,
            NumLayers = Num(root, "num_layers", path) is { } l ? (int)l : 0,
            PromptTuningInit = Str(root, "prompt_tuning_init", path) ?? "RANDOM",
            PromptTuningInitText = Str(root, "prompt_tuning_init_text", path),
            TokenizerNameOrPath = Str(root, "tokenizer_name_or_path", path),
            EncoderReparameterizationType = Str(root, "encoder_reparameterization_type", path) ?? "MLP",
            EncoderHiddenSize = Num(root, "encoder_hidden_size", path) is { } eh ? (int)eh : 0,
            EncoderNumLayers = Num(root, "encoder_num_layers", path) is { } el ? (int)el : 2,
            EncoderDropout = Num(root, "encoder_dropout", path) ?? 0,
            PrefixProjection = root["prefix_projection"] is JsonValue projection && projection.TryGetValue<bool>(out var projected) && projected,
            ModulesToSave = root["modules_to_save"] is JsonArray ms ? ms.Select(x => (string?)x ?? "").ToList() : null,
            Revision = Str(root, "revision", path),
        };
    }
}
