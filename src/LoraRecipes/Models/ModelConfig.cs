using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraRecipes.Models;

/// <summary>The fields of a Hugging Face <c>config.json</c> that the decoder families read.</summary>
/// <remarks>Sizes are checked before anything is allocated: a hostile config must not ask for terabytes.</remarks>
public sealed record ModelConfig
{
    /// <summary>HF <c>model_type</c>: llama, mistral, qwen2, …</summary>
    public required string ModelType { get; init; }
    /// <summary>Token vocabulary size (rows of the embedding).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Width of the residual stream.</summary>
    public required int HiddenSize { get; init; }
    /// <summary>Inner width of the SwiGLU MLP.</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>Number of decoder layers.</summary>
    public required int NumHiddenLayers { get; init; }
    /// <summary>Query heads.</summary>
    public required int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads (GQA when fewer than query heads).</summary>
    public required int NumKeyValueHeads { get; init; }
    /// <summary>Per-head width; <c>hidden_size / num_attention_heads</c> unless given.</summary>
    public required int HeadDim { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>RoPE base frequency.</summary>
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>Longest position the model was trained for.</summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;
    /// <summary>True when <c>lm_head</c> shares the embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q/k/v projections (Qwen2, or <c>attention_bias</c>).</summary>
    public bool AttentionBias { get; init; }
    /// <summary>Bias on o_proj (Llama and Qwen3 <c>attention_bias</c>; never Qwen2 or Mistral).</summary>
    public bool OutputBias { get; init; }
    /// <summary>Bias on gate/up/down projections (Llama <c>mlp_bias</c>).</summary>
    public bool MlpBias { get; init; }
    /// <summary>RoPE frequency scaling (<c>rope_scaling</c> / <c>rope_parameters</c>).</summary>
    public RopeScaling RopeScaling { get; init; } = RopeScaling.None;
    /// <summary>Sliding-window attention span (Mistral <c>sliding_window</c>; Qwen2/3 with <c>use_sliding_window</c>); null: full causal.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Which layers use <see cref="SlidingWindow"/> (Qwen's max_window_layers / layer_types); null: every layer.</summary>
    public IReadOnlyList<bool>? SlidingLayers { get; init; }

    /// <summary>The attention window of layer <paramref name="layer"/>: a query attends to the keys k with q − window &lt; k ≤ q; null: full causal.</summary>
    public int? WindowOf(int layer) => SlidingWindow is { } w && (SlidingLayers is null || SlidingLayers[layer]) ? w : null;
    /// <summary>Stored dtype (<c>torch_dtype</c>), informational.</summary>
    public string? TorchDtype { get; init; }
    /// <summary>BOS id from the config, when present.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>EOS id from the config, when present (first of a list).</summary>
    public int? EosTokenId { get; init; }
    /// <summary>LayerNorm epsilon (GPT-2 <c>layer_norm_epsilon</c>, BERT <c>layer_norm_eps</c>; DistilBERT fixes 1e-12).</summary>
    public double LayerNormEps { get; init; } = 1e-5;
    /// <summary>MLP activation by its HF name (<c>hidden_act</c>, <c>activation_function</c>, <c>activation</c>).</summary>
    public string HiddenAct { get; init; } = "silu";
    /// <summary>Segment vocabulary of BERT's token_type_embeddings (0 for families without one).</summary>
    public int TypeVocabSize { get; init; }
    /// <summary>Padding id, when config.json has one (decoder classification pools before it).</summary>
    public int? PadTokenId { get; init; }
    /// <summary>Per-head RMSNorm on queries and keys before RoPE (Qwen3's q_norm/k_norm).</summary>
    public bool QkNorm { get; init; }
    /// <summary>Class names by id (config.json <c>id2label</c>, or LABEL_i for <c>num_labels</c>); HF's default is two.</summary>
    public IReadOnlyList<string> Labels { get; init; } = ClassificationLabels.Default;

    /// <summary>Parameters a Llama-style decoder with this config holds (for size checks and reports).</summary>
    public long ParameterCount()
    {
        if (ModelFamilies.ConfigFormat(ModelType) is { } format) return format.ParameterCount(this);
        long h = HiddenSize, kv = (long)NumKeyValueHeads * HeadDim, q = (long)NumAttentionHeads * HeadDim;
        long attention = h * q + 2 * h * kv + q * h + (AttentionBias ? q + 2 * kv : 0) + (OutputBias ? h : 0);
        long mlp = 3 * h * IntermediateSize + (MlpBias ? 2L * IntermediateSize + h : 0);
        long perLayer = attention + mlp + 2 * h + (QkNorm ? 2L * HeadDim : 0);
        long embed = (long)VocabSize * h;
        return embed + NumHiddenLayers * perLayer + h + (TieWordEmbeddings ? 0 : embed);
    }

    /// <summary>Reads and checks <c>config.json</c>; errors name the file and the field.</summary>
    public static ModelConfig Load(string path)
    {
        JsonObject root;
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.Length > 4 << 20) throw new ModelLoadException(path, "config.json is larger than 4 MB; this is not a model config.");
            root = JsonNode.Parse(stream) as JsonObject ?? throw new ModelLoadException(path, "config.json must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, $"config.json is not valid JSON (line {ex.LineNumber + 1}): {ex.Message}");
        }
        return FromJson(root, path);
    }

    internal static ModelConfig FromJson(JsonObject root, string path)
    {
        var reader = new ConfigReader(root, path);
        string modelType = reader.String("model_type");
        if (ModelFamilies.ConfigFormat(modelType) is { } format) return Checked(format.Read(root, reader), path);
        int hidden = reader.Int("hidden_size", 1, 65536);
        int heads = reader.Int("num_attention_heads", 1, 1024);
        int headDim = reader.OptionalInt("head_dim", 1, 4096) ?? (hidden % heads == 0 ? hidden / heads
            : throw new ModelLoadException(path, $"hidden_size {hidden} is not divisible by num_attention_heads {heads}."));
        int kvHeads = reader.OptionalInt("num_key_value_heads", 1, 1024) ?? heads;
        if (heads % kvHeads != 0) throw new ModelLoadException(path, $"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}.");
        int layers = reader.Int("num_hidden_layers", 1, 1024);
        var decoder = DecoderFields.Read(root, reader, modelType, layers);
        var config = new ModelConfig
        {
            ModelType = modelType,
            VocabSize = reader.Int("vocab_size", 1, 1 << 22),
            HiddenSize = hidden,
            IntermediateSize = reader.Int("intermediate_size", 1, 1 << 20),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            RmsNormEps = reader.OptionalDouble("rms_norm_eps") ?? 1e-6,
            RopeTheta = decoder.RopeTheta,
            RopeScaling = decoder.RopeScaling,
            MaxPositionEmbeddings = decoder.MaxPositions,
            TieWordEmbeddings = reader.OptionalBool("tie_word_embeddings") ?? false,
            AttentionBias = decoder.QkvBias,
            OutputBias = decoder.OutputBias,
            MlpBias = decoder.MlpBias,
            HiddenAct = decoder.HiddenAct,
            SlidingWindow = decoder.SlidingWindow,
            SlidingLayers = decoder.SlidingLayers,
            TorchDtype = root["torch_dtype"]?.GetValueKind() == JsonValueKind.String ? (string?)root["torch_dtype"] : null,
            BosTokenId = reader.OptionalTokenId("bos_token_id"),
            EosTokenId = reader.OptionalTokenId("eos_token_id"),
            PadTokenId = reader.OptionalTokenId("pad_token_id"),
            QkNorm = modelType == "qwen3",
            Labels = ClassificationLabels.Read(root, path),
        };
        return Checked(config, path);
    }

    private static ModelConfig Checked(ModelConfig config, string path)
    {
        // 2^36 parameters is 256 GB in fp32: far past anything this tool can train, and a sign of a hostile file.
        long parameters = config.ParameterCount();
        if (parameters > 1L << 36)
            throw new ModelLoadException(path, $"config.json describes {parameters:N0} parameters; refusing to allocate a model that large.");
        return config;
    }

    /// <summary>Writes the config as HF <c>config.json</c> text.</summary>
    public string ToJson()
    {
        if (ModelFamilies.ConfigFormat(ModelType) is { } format) return format.Write(this).ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["hidden_act"] = HiddenAct,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["attention_bias"] = AttentionBias,
            ["torch_dtype"] = TorchDtype ?? "float32",
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
        };
        // Written only when set, so the builtin models' config.json bytes stay as they were.
        if (MlpBias) o["mlp_bias"] = true;
        if (RopeScaling.ToJson() is { } rope) o["rope_scaling"] = rope;
        if (SlidingWindow is { } window)
        {
            o["sliding_window"] = window;
            if (ModelType is "qwen2" or "qwen3") o["use_sliding_window"] = true;
            if (SlidingLayers is { } sliding) o["layer_types"] = new JsonArray(sliding.Select(b => (JsonNode)(b ? "sliding_attention" : "full_attention")).ToArray());
        }
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    internal readonly struct ConfigReader(JsonObject root, string path)
    {
        public string String(string key) =>
            root[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
            : throw new ModelLoadException(path, $"\"{key}\" is missing or not a string.");

        public string? OptionalString(string key) =>
            root[key] is null ? null
            : root[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
            : throw new ModelLoadException(path, $"\"{key}\" must be a string.");

        /// <summary>The config file's path, for error messages.</summary>
        public string Path => path;

        public int Int(string key, int min, int max) =>
            OptionalInt(key, min, max) ?? throw new ModelLoadException(path, $"\"{key}\" is missing.");

        public int? OptionalInt(string key, int min, int max)
        {
            if (root[key] is null) return null;
            if (root[key] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number
                || !long.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long value))
                throw new ModelLoadException(path, $"\"{key}\" must be an integer.");
            if (value < min || value > max)
                throw new ModelLoadException(path, $"\"{key}\" is {value}; expected {min}..{max}.");
            return (int)value;
        }

        public double? OptionalDouble(string key) =>
            root[key] is null ? null
            : root[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)
            : throw new ModelLoadException(path, $"\"{key}\" must be a number.");

        public bool? OptionalBool(string key) =>
            root[key] is null ? null
            : root[key] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>()
            : throw new ModelLoadException(path, $"\"{key}\" must be true or false.");

        public int? OptionalTokenId(string key) => root[key] switch
        {
            JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int id) => id,
            JsonArray { Count: > 0 } a when a[0] is JsonValue first && first.TryGetValue(out int id) => id,
            _ => null,
        };
    }
}
