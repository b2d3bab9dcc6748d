using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// The bottleneck adapter settings the injector needs: which output projections get one (the recipe's placement
/// resolved to the model family's module paths), the width, the activation, init and dropout.
/// </summary>
/// <param name="Targets">Module paths to wrap, as <see cref="TargetMatcher"/> entries (<c>re:</c> over full paths).</param>
/// <param name="BottleneckSize">m, or null to use <paramref name="ReductionFactor"/> against each layer's width.</param>
/// <param name="ReductionFactor">m = ⌊d / reduction_factor⌋ when <paramref name="BottleneckSize"/> is null.</param>
/// <param name="NonLinearity">The activation between down and up.</param>
/// <param name="Init">How down and up start.</param>
/// <param name="Dropout">Dropout on the adapter output while training.</param>
/// <param name="Generator">The run's random stream for init and dropout (null: torch's global RNG).</param>
public sealed record BottleneckSettings(IReadOnlyList<string> Targets, int? BottleneckSize, double ReductionFactor,
    BottleneckActivation NonLinearity, BottleneckInit Init = BottleneckInit.Default, double Dropout = 0, Generator? Generator = null)
{
    /// <summary>m for a sub-layer of output width <paramref name="hidden"/>: bottleneck_size, or ⌊hidden / reduction_factor⌋ (at least 1).</summary>
    public int WidthFor(long hidden) => BottleneckSize ?? (int)Math.Max(1, Math.Floor(hidden / ReductionFactor));

    /// <summary>The recipe's <c>bottleneck_adapter:</c> block on a model of <paramref name="modelType"/>.</summary>
    public static BottleneckSettings Resolve(BottleneckAdapterOptions options, string modelType, Generator? generator = null) =>
        new(TargetsFor(options.Placement, modelType), options.BottleneckSize, options.ReductionFactor, options.NonLinearity, options.Init, options.Dropout, generator);

    /// <summary>
    /// The attention and feed-forward output projections of each family, as regexes over full module paths (BERT's
    /// <c>output.dense</c> suffix would also match <c>attention.output.dense</c>, so a suffix is not enough).
    /// </summary>
    public static IReadOnlyList<string> TargetsFor(BottleneckPlacement placement, string modelType)
    {
        if (!Family.TryGetValue(modelType, out var family))
            throw new LoraTargetException($"bottleneck_adapter has no placement table for model_type {modelType}; supported: {string.Join(", ", Family.Keys.Order(StringComparer.Ordinal))}.");
        return placement switch
        {
            BottleneckPlacement.Attention => [family.Attention],
            BottleneckPlacement.Ffn => [family.Ffn],
            _ => [family.Attention, family.Ffn],
        };
    }

    private static readonly (string Attention, string Ffn) Decoder = (@"re:.*\.self_attn\.o_proj", @"re:.*\.mlp\.down_proj");

    private static readonly Dictionary<string, (string Attention, string Ffn)> Family = new(StringComparer.Ordinal)
    {
        ["llama"] = Decoder,
        ["mistral"] = Decoder,
        ["qwen2"] = Decoder,
        ["qwen3"] = Decoder,
        ["gpt2"] = (@"re:.*\.attn\.c_proj", @"re:.*\.mlp\.c_proj"),
        ["bert"] = (@"re:.*\.attention\.output\.dense", @"re:.*\.layer\.\d+\.output\.dense"),
        ["distilbert"] = (@"re:.*\.attention\.out_lin", @"re:.*\.ffn\.lin2"),
    };
}
