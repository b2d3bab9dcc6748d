using LoraRecipes.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>The IA3 settings the injector needs (the recipe's <c>ia3:</c> section, defaults resolved per model family).</summary>
/// <param name="TargetModules">Modules that get a scaling vector (names, dotted suffixes, <c>re:</c>, all-linear).</param>
/// <param name="FeedforwardModules">Targets whose input is scaled; every module they match must be a target.</param>
public sealed record Ia3Settings(IReadOnlyList<string> TargetModules, IReadOnlyList<string> FeedforwardModules)
{
    /// <summary>
    /// The recipe's lists, or PEFT's defaults for <paramref name="modelType"/> where a list is null
    /// (<c>TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING</c> / <c>…_FEEDFORWARD_MODULES_MAPPING</c>).
    /// </summary>
    public static Ia3Settings Resolve(IReadOnlyList<string>? targets, IReadOnlyList<string>? feedforward, string modelType)
    {
        var defaults = Defaults.GetValueOrDefault(modelType);
        if ((targets is null || feedforward is null) && defaults is null)
            throw new LoraTargetException($"ia3.target_modules and ia3.feedforward_modules have no default for model_type {modelType} (PEFT has none either); " +
                "name them in the recipe, e.g. ia3: {target_modules: [k_proj, v_proj, down_proj], feedforward_modules: [down_proj]}.");
        return new Ia3Settings(targets ?? defaults!.Value.Targets, feedforward ?? (targets is null ? defaults!.Value.Feedforward : []));
    }

    // PEFT's tables (utils/constants.py) for the families this project loads; distilbert and qwen3 are not in PEFT's
    // table and follow its bert and llama rows with their own module names.
    private static readonly Dictionary<string, (string[] Targets, string[] Feedforward)?> Defaults = new(StringComparer.Ordinal)
    {
        ["llama"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["mistral"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["qwen2"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["qwen3"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["gemma"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["gemma2"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["gpt2"] = (["c_attn", "mlp.c_proj"], ["mlp.c_proj"]),
        ["bert"] = (["key", "value", "output.dense"], ["output.dense"]),
        ["roberta"] = (["key", "value", "output.dense"], ["output.dense"]),
        ["distilbert"] = (["k_lin", "v_lin", "lin2"], ["lin2"]),
    };
}

/// <summary>Wraps the target linear layers of a model in <see cref="Ia3Linear"/> and freezes everything else.</summary>
public static class Ia3Injector
{
    /// <summary>
    /// Replaces every matching linear layer; a module matched by <see cref="Ia3Settings.FeedforwardModules"/> scales its
    /// input. A target list that matches nothing, or a feed-forward entry matching a module that is not a target, is an
    /// error naming the recipe key.
    /// </summary>
    public static IReadOnlyDictionary<string, Ia3Linear> Inject(nn.Module model, Ia3Settings settings, IEnumerable<string>? outputLayers = null)
    {
        var targets = new TargetMatcher(settings.TargetModules, outputLayers);
        var feedforward = new TargetMatcher(settings.FeedforwardModules, outputLayers);
        var (wrapped, seen) = LinearWrapping.Wrap(model, (path, linear) =>
        {
            bool isFeedforward = settings.FeedforwardModules.Count > 0 && feedforward.Matches(path);
            if (targets.Matches(path)) return new Ia3Linear(linear, isFeedforward);
            if (isFeedforward)
                throw new LoraTargetException($"ia3.feedforward_modules matches {path}, which ia3.target_modules [{string.Join(", ", settings.TargetModules)}] does not: " +
                    "feed-forward modules are a subset of the targets (PEFT's rule); add it to the targets or narrow feedforward_modules.");
            return null;
        });
        if (wrapped.Count == 0)
            throw new LoraTargetException(settings.TargetModules, seen, "ia3.target_modules");
        LoraInjector.Freeze(model);
        return wrapped;
    }
}
