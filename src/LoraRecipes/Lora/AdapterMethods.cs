using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>A recipe's method and its settings, resolved for one model (IA3's family defaults filled in).</summary>
public sealed record AdapterSettings(AdapterMethod Method, LoraSettings Lora, Ia3Settings? Ia3, BottleneckSettings? Bottleneck = null,
    PromptLearningSettings? Prompt = null);

/// <summary>
/// The one place that maps a recipe's <c>method:</c> to the module that wraps the frozen model. The trainer, the plan's
/// parameter count and the artifact writer go through here and <see cref="IAdapterLayer"/> only. A new method adds a
/// settings record, an injector and a layer type (one file each) and a case below.
/// </summary>
public static class AdapterMethods
{
    /// <summary>
    /// The settings for <paramref name="recipe"/> on a model of <paramref name="modelType"/>; <paramref name="tokenizer"/>
    /// tokenizes prompt tuning's <c>init_text</c>.
    /// </summary>
    public static AdapterSettings For(Recipe recipe, string modelType, Generator? generator = null, Tokenization.TextTokenizer? tokenizer = null)
    {
        var lora = recipe.Lora;
        var loraSettings = new LoraSettings(lora.R, lora.Alpha, lora.Dropout, lora.TargetModules.ToList(), lora.UseRslora, lora.Init, generator, lora.UseDora, lora.PissaNiter);
        var ia3 = recipe.Method == AdapterMethod.Ia3 ? Ia3Settings.Resolve(recipe.Ia3.TargetModules, recipe.Ia3.FeedforwardModules, modelType) : null;
        var bottleneck = recipe.Method == AdapterMethod.BottleneckAdapter ? BottleneckSettings.Resolve(recipe.BottleneckAdapter, modelType, generator) : null;
        var prompt = PromptLearningSettings.IsPromptMethod(recipe.Method) ? PromptLearningSettings.Resolve(recipe, tokenizer, generator) : null;
        return new AdapterSettings(recipe.Method, loraSettings, ia3, bottleneck, prompt);
    }

    /// <summary>
    /// Wraps the targets with the method's layer (or, for prompt tuning, p-tuning and prefix tuning, attaches the prompt module) and
    /// freezes everything else; returns the adapter modules by path.
    /// </summary>
    public static IReadOnlyDictionary<string, IAdapterModule> Inject(nn.Module model, AdapterSettings settings, IEnumerable<string>? outputLayers = null) =>
        settings.Method switch
        {
            AdapterMethod.Ia3 => Ia3Injector.Inject(model, settings.Ia3!, outputLayers).ToDictionary(p => p.Key, p => (IAdapterModule)p.Value, StringComparer.Ordinal),
            // freeze wraps nothing: everything is frozen here and FrozenBlocks (see Freeze below) unfreezes the chosen blocks.
            AdapterMethod.Freeze => FreezeEverything(model),
            AdapterMethod.BottleneckAdapter => BottleneckInjector.Inject(model, settings.Bottleneck!, outputLayers).ToDictionary(p => p.Key, p => (IAdapterModule)p.Value, StringComparer.Ordinal),
            AdapterMethod.PromptTuning or AdapterMethod.PTuning or AdapterMethod.PrefixTuning => PromptInjector.Inject(model, settings.Prompt!),
            _ => LoraInjector.Inject(model, settings.Lora, outputLayers).ToDictionary(p => p.Key, p => (IAdapterModule)p.Value, StringComparer.Ordinal),
        };

    /// <summary>
    /// <c>method: freeze</c>: the candidates of the recipe's <c>freeze:</c> block on a model of <paramref name="modelType"/> with
    /// <paramref name="blockCount"/> blocks (null for every other method). Call after <see cref="Inject"/>, then
    /// <see cref="FrozenBlocks.Apply"/> before each update.
    /// </summary>
    public static FrozenBlocks? Freeze(nn.Module model, Recipe recipe, string modelType, int blockCount, bool classifier) =>
        recipe.Method == AdapterMethod.Freeze
            ? FrozenBlocks.Select(model, FreezeSettings.Resolve(recipe.Freeze, modelType, blockCount, classifier))
            : null;

    private static IReadOnlyDictionary<string, IAdapterModule> FreezeEverything(nn.Module model)
    {
        LoraInjector.Freeze(model);
        return new Dictionary<string, IAdapterModule>(StringComparer.Ordinal);
    }
}
