using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraRecipes.Models;

/// <summary>
/// The config.json fields that change a Llama-style decoder's forward pass, read per <c>model_type</c> as the
/// transformers configuration and modeling classes read them (LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>llama: q/k/v/o bias = <c>attention_bias</c>; gate/up/down bias = <c>mlp_bias</c>; no sliding window.</item>
/// <item>mistral: no biases; <c>sliding_window</c> on every layer (MistralConfig's default 4096 when absent, null: none).</item>
/// <item>qwen2: q/k/v bias always, o_proj none; a window only with <c>use_sliding_window</c>, on layers ≥ <c>max_window_layers</c>
/// (default 28), or as <c>layer_types</c> says.</item>
/// <item>qwen3: q/k/v/o bias = <c>attention_bias</c>; windows as qwen2.</item>
/// </list>
/// Every family: <c>hidden_act</c> (default silu), <c>rope_theta</c> and <c>rope_scaling</c> (or v5's <c>rope_parameters</c>),
/// <c>partial_rotary_factor</c> (only 1: these families rotate the whole head), <c>attention_dropout</c> (only 0: the
/// published checkpoints all use 0, and a non-zero value would change training). An unsupported value is a
/// <see cref="ModelLoadException"/> naming the field.
/// </remarks>
internal sealed record DecoderFields(
    double RopeTheta, RopeScaling RopeScaling, int MaxPositions, bool QkvBias, bool OutputBias, bool MlpBias, string HiddenAct,
    int? SlidingWindow, IReadOnlyList<bool>? SlidingLayers)
{
    public static DecoderFields Read(JsonObject root, ModelConfig.ConfigReader reader, string modelType, int layers)
    {
        string path = reader.Path;
        int maxPositions = reader.OptionalInt("max_position_embeddings", 1, 1 << 24) ?? 2048;
        string act = FamilyConfig.Activation(reader, "hidden_act", "silu");

        // RoPE: transformers v5 folds rope_theta and the scaling into rope_parameters; v4 keeps rope_theta + rope_scaling.
        double theta = reader.OptionalDouble("rope_theta") ?? 10000.0;
        string ropeKey = root["rope_parameters"] is JsonObject ? "rope_parameters" : "rope_scaling";
        JsonObject? ropeObject = root[ropeKey] as JsonObject;
        if (ropeKey == "rope_parameters" && ropeObject!["rope_theta"] is JsonValue rt && rt.GetValueKind() == JsonValueKind.Number)
            theta = rt.GetValue<double>();
        if (theta <= 1 || double.IsNaN(theta) || double.IsInfinity(theta))
            throw new ModelLoadException(path, $"\"rope_theta\" is {theta}; it must be a finite number above 1.");
        var scaling = RopeScaling.Read(root[ropeKey], ropeKey, path, maxPositions);
        double partial = reader.OptionalDouble("partial_rotary_factor")
            ?? (ropeObject?["partial_rotary_factor"] is JsonValue pv && pv.GetValueKind() == JsonValueKind.Number ? pv.GetValue<double>() : 1.0);
        if (partial != 1.0)
            throw new ModelLoadException(path, $"\"partial_rotary_factor\" is {partial}; {modelType} rotates the whole head here (1.0 only).");
        if (reader.OptionalDouble("attention_dropout") is { } dropout && dropout != 0)
            throw new ModelLoadException(path, $"\"attention_dropout\" is {dropout}; only 0 is supported (every published {modelType} checkpoint uses 0).");

        bool attentionBias = reader.OptionalBool("attention_bias") ?? false;
        bool mlpBias = reader.OptionalBool("mlp_bias") ?? false;
        var (qkv, output, mlp) = modelType switch
        {
            "llama" => (attentionBias, attentionBias, mlpBias),
            "qwen2" => (true, false, false),
            "qwen3" => (attentionBias, attentionBias, false),
            _ => (false, false, false),   // mistral: bias=False throughout MistralAttention / MistralMLP
        };

        var (window, sliding) = modelType switch
        {
            "mistral" => (WindowValue(root, reader, 4096), null),
            "qwen2" or "qwen3" => QwenWindows(root, reader, layers),
            _ => ((int?)null, (IReadOnlyList<bool>?)null),
        };
        return new DecoderFields(theta, scaling, maxPositions, qkv, output, mlp, act, window, sliding);
    }

    /// <summary><c>sliding_window</c>: absent → the family default, null → none, else a positive integer.</summary>
    private static int? WindowValue(JsonObject root, ModelConfig.ConfigReader reader, int? absent)
    {
        if (!root.ContainsKey("sliding_window")) return absent;
        if (root["sliding_window"] is null) return null;
        return reader.OptionalInt("sliding_window", 1, 1 << 24);
    }

    /// <summary>Qwen2/Qwen3: the window applies only with use_sliding_window, to layers ≥ max_window_layers (or as layer_types lists).</summary>
    private static (int?, IReadOnlyList<bool>?) QwenWindows(JsonObject root, ModelConfig.ConfigReader reader, int layers)
    {
        bool use = reader.OptionalBool("use_sliding_window") ?? false;
        int? window = use ? WindowValue(root, reader, 4096) : null;
        if (root["layer_types"] is JsonArray types)
        {
            if (types.Count != layers)
                throw new ModelLoadException(reader.Path, $"\"layer_types\" lists {types.Count} layers; num_hidden_layers is {layers}.");
            var sliding = types.Select((t, i) => (t as JsonValue)?.GetValueKind() == JsonValueKind.String ? t!.GetValue<string>() switch
            {
                "full_attention" => false,
                "sliding_attention" => true,
                var other => throw new ModelLoadException(reader.Path, $"\"layer_types\"[{i}] is '{other}'; supported: full_attention, sliding_attention."),
            } : throw new ModelLoadException(reader.Path, $"\"layer_types\"[{i}] must be a string.")).ToList();
            // Qwen2Config: sliding_window is None unless use_sliding_window, whatever layer_types says.
            return window is null || !sliding.Any(s => s) ? (null, null) : (window, sliding);
        }
        if (window is null) return (null, null);
        int maxWindowLayers = reader.OptionalInt("max_window_layers", 0, 1 << 20) ?? 28;
        return (window, Enumerable.Range(0, layers).Select(i => i >= maxWindowLayers).ToList());
    }
}
