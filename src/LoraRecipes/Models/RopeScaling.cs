using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraRecipes.Models;

/// <summary>
/// config.json <c>rope_scaling</c> (or transformers v5 <c>rope_parameters</c>) as transformers' modeling_rope_utils
/// computes it: the inverse frequencies θ_i of rotate-half RoPE and the factor that multiplies cos and sin.
/// </summary>
/// <remarks>
/// Implemented: <c>default</c>, <c>linear</c>, <c>dynamic</c>, <c>llama3</c>, <c>yarn</c> — what the checkpoints of the
/// supported families ship (Llama 3.1/3.2: llama3; Qwen2.5/Qwen3 long-context configs: yarn; older Llama fine-tunes:
/// linear/dynamic). Any other <c>rope_type</c> (longrope, ntk, …) is refused by name when the config is read.
/// With d = head_dim, base = rope_theta, i ∈ [0, d/2): default θ_i = base^(−2i/d); linear θ_i / factor;
/// llama3 scales by wavelength (see <see cref="Llama3"/>); yarn blends interpolated and extrapolated frequencies with a
/// linear ramp and scales cos/sin by the attention factor (see <see cref="Yarn"/>); dynamic NTK raises the base only
/// for sequences past max_position_embeddings, which this code never runs (the rotary table stops there), so within
/// every sequence it accepts dynamic equals default.
/// </remarks>
public sealed record RopeScaling
{
    /// <summary>The rope types this code implements.</summary>
    public static IReadOnlyList<string> Supported { get; } = ["default", "linear", "dynamic", "llama3", "yarn"];

    /// <summary>default (no scaling), linear, dynamic, llama3 or yarn.</summary>
    public string Type { get; init; } = "default";
    /// <summary><c>factor</c>: context extension ratio.</summary>
    public double Factor { get; init; } = 1.0;
    /// <summary>llama3 <c>low_freq_factor</c>.</summary>
    public double LowFreqFactor { get; init; } = 1.0;
    /// <summary>llama3 <c>high_freq_factor</c>.</summary>
    public double HighFreqFactor { get; init; } = 4.0;
    /// <summary><c>original_max_position_embeddings</c> (llama3: required; yarn: optional).</summary>
    public int? OriginalMaxPositions { get; init; }
    /// <summary>yarn <c>attention_factor</c>; null: derived from factor (and mscale/mscale_all_dim).</summary>
    public double? AttentionFactor { get; init; }
    /// <summary>yarn <c>beta_fast</c> (32 when absent).</summary>
    public double BetaFast { get; init; } = 32;
    /// <summary>yarn <c>beta_slow</c> (1 when absent).</summary>
    public double BetaSlow { get; init; } = 1;
    /// <summary>yarn <c>mscale</c>.</summary>
    public double? Mscale { get; init; }
    /// <summary>yarn <c>mscale_all_dim</c>.</summary>
    public double? MscaleAllDim { get; init; }
    /// <summary>yarn <c>truncate</c> (true when absent): floor/ceil the correction range.</summary>
    public bool Truncate { get; init; } = true;

    /// <summary>No scaling.</summary>
    public static RopeScaling None { get; } = new();

    /// <summary>θ_i for i ∈ [0, d/2) and the cos/sin multiplier, as transformers' <c>ROPE_INIT_FUNCTIONS[rope_type]</c>.</summary>
    public (double[] InvFreq, double AttentionScaling) Compute(int headDim, double theta, int maxPositions)
    {
        var inv = Default(headDim, theta);
        switch (Type)
        {
            case "default":
            case "dynamic":   // base raised only when seq_len > max_position_embeddings (never here)
                return (inv, 1.0);
            case "linear":
                return (inv.Select(f => f / Factor).ToArray(), 1.0);
            case "llama3":
                return (Llama3(inv), 1.0);
            case "yarn":
                return Yarn(headDim, theta, maxPositions);
            default:
                throw new NotSupportedException($"rope_type '{Type}'");
        }
    }

    /// <summary>θ_i = base^(−2i/d).</summary>
    public static double[] Default(int headDim, double theta) =>
        Enumerable.Range(0, headDim / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / headDim)).ToArray();

    /// <summary>
    /// transformers' <c>_compute_dynamic_ntk_parameters</c> for a sequence of <paramref name="seqLen"/> tokens:
    /// base' = base · (factor·L/max − (factor − 1))^(d/(d−2)) with L = max(seqLen, max).
    /// </summary>
    public static double[] DynamicNtk(int headDim, double theta, double factor, int maxPositions, int seqLen)
    {
        double l = Math.Max(seqLen, maxPositions);
        double b = theta * Math.Pow(factor * l / maxPositions - (factor - 1), headDim / (headDim - 2.0));
        return Default(headDim, b);
    }

    /// <summary>
    /// llama3: wavelength λ = 2π/θ; λ &lt; old/high kept; λ &gt; old/low divided by factor; in between
    /// (1 − s)·θ/factor + s·θ with s = (old/λ − low)/(high − low).
    /// </summary>
    private double[] Llama3(double[] inv)
    {
        double old = OriginalMaxPositions!.Value;
        double lowWavelen = old / LowFreqFactor, highWavelen = old / HighFreqFactor;
        return inv.Select(f =>
        {
            double wavelen = 2 * Math.PI / f;
            if (wavelen < highWavelen) return f;
            if (wavelen > lowWavelen) return f / Factor;
            double s = (old / wavelen - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
            return (1 - s) * f / Factor + s * f;
        }).ToArray();
    }

    /// <summary>
    /// yarn (transformers v5's <c>_compute_yarn_parameters</c>): with original max positions P (rope_scaling's, else
    /// max_position_embeddings; factor, when absent, max_position_embeddings / P),
    /// the correction range [low, high] of dims d·ln(P/(2πβ))/(2 ln base) for β = beta_fast, beta_slow (floor/ceil
    /// when truncate), ramp r_i = clamp((i − low)/(high − low), 0, 1), θ_i = θ_interp·r_i + θ_extrap·(1 − r_i),
    /// attention factor 0.1·ln(factor) + 1 unless given.
    /// </summary>
    private (double[], double) Yarn(int dim, double theta, int maxPositions)
    {
        double factor = Factor;
        double original = OriginalMaxPositions ?? maxPositions;
        static double MscaleOf(double scale, double m) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;
        double attention = AttentionFactor
            ?? (Mscale is { } ms && ms != 0 && MscaleAllDim is { } ma && ma != 0 ? MscaleOf(factor, ms) / MscaleOf(factor, ma) : MscaleOf(factor, 1));
        double CorrectionDim(double rotations) => dim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = CorrectionDim(BetaFast), high = CorrectionDim(BetaSlow);
        if (Truncate) (low, high) = (Math.Floor(low), Math.Ceiling(high));
        (low, high) = (Math.Max(low, 0), Math.Min(high, dim - 1));
        if (low == high) high += 0.001;
        var inv = new double[dim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            double posFreq = Math.Pow(theta, 2.0 * i / dim);
            double extrapolation = 1.0 / posFreq, interpolation = 1.0 / (factor * posFreq);
            double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
            double extrapolationFactor = 1 - ramp;
            inv[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        return (inv, attention);
    }

    /// <summary>Reads <c>rope_scaling</c> (null or absent: none); an unknown rope_type or a missing key is an error naming it.</summary>
    internal static RopeScaling Read(JsonNode? node, string key, string path, int? maxPositions)
    {
        if (node is null) return None;
        if (node is not JsonObject o) throw new ModelLoadException(path, $"\"{key}\" must be an object or null.");
        string type = (o["rope_type"] ?? o["type"]) is JsonValue t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : "default";
        if (!Supported.Contains(type))
            throw new ModelLoadException(path, $"\"{key}\".rope_type '{type}' is not supported; supported: {string.Join(", ", Supported)}. " +
                "Loading it with unscaled RoPE would train a different model.");
        double? Number(string name) => o[name] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture),
            _ => throw new ModelLoadException(path, $"\"{key}\".{name} must be a number."),
        };
        double Required(string name) => Number(name) ?? throw new ModelLoadException(path, $"\"{key}\" with rope_type '{type}' needs \"{name}\".");
        var scaling = new RopeScaling { Type = type };
        if (type is "default") return scaling;
        int? original = Number("original_max_position_embeddings") is { } omp && omp >= 1 && omp <= 1 << 24 ? (int)omp
            : o["original_max_position_embeddings"] is null ? null
            : throw new ModelLoadException(path, $"\"{key}\".original_max_position_embeddings must be an integer in 1..{1 << 24}.");
        double factor = type == "yarn" && Number("factor") is null && original is { } p && maxPositions is { } max ? (double)max / p : Required("factor");
        if (factor <= 0 || double.IsNaN(factor)) throw new ModelLoadException(path, $"\"{key}\".factor is {factor}; it must be positive.");
        scaling = scaling with { Factor = factor };
        if (type == "llama3")
        {
            scaling = scaling with
            {
                LowFreqFactor = Required("low_freq_factor"),
                HighFreqFactor = Required("high_freq_factor"),
                OriginalMaxPositions = original ?? throw new ModelLoadException(path, $"\"{key}\" with rope_type 'llama3' needs \"original_max_position_embeddings\"."),
            };
            if (scaling.HighFreqFactor <= scaling.LowFreqFactor)
                throw new ModelLoadException(path, $"\"{key}\".high_freq_factor must be greater than low_freq_factor.");
        }
        else if (type == "yarn")
        {
            bool truncate = o["truncate"] is JsonValue tv && tv.GetValueKind() == JsonValueKind.False ? false : true;
            scaling = scaling with
            {
                OriginalMaxPositions = original,
                AttentionFactor = Number("attention_factor"),
                BetaFast = Number("beta_fast") is { } bf && bf != 0 ? bf : 32,
                BetaSlow = Number("beta_slow") is { } bs && bs != 0 ? bs : 1,
                Mscale = Number("mscale"),
                MscaleAllDim = Number("mscale_all_dim"),
                Truncate = truncate,
            };
        }
        return scaling;
    }

    /// <summary>The config.json form (null for none).</summary>
    internal JsonObject? ToJson()
    {
        if (Type == "default") return null;
        var o = new JsonObject { ["rope_type"] = Type, ["factor"] = Factor };
        if (Type == "llama3") { o["low_freq_factor"] = LowFreqFactor; o["high_freq_factor"] = HighFreqFactor; }
        if (OriginalMaxPositions is { } omp) o["original_max_position_embeddings"] = omp;
        if (Type == "yarn")
        {
            if (AttentionFactor is { } af) o["attention_factor"] = af;
            o["beta_fast"] = BetaFast;
            o["beta_slow"] = BetaSlow;
            if (Mscale is { } m) o["mscale"] = m;
            if (MscaleAllDim is { } mad) o["mscale_all_dim"] = mad;
            if (!Truncate) o["truncate"] = false;
        }
        return o;
    }
}
