using LoraRecipes.Models;
using LoraRecipes.Recipes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>The LoRA settings the injector needs (the recipe's <c>lora:</c> section).</summary>
/// <remarks><c>Generator</c> is the run's random stream for initialisation and dropout (null: torch's global RNG).</remarks>
public sealed record LoraSettings(int R, double Alpha, double Dropout, IReadOnlyList<string> TargetModules,
    bool UseRslora = false, LoraInit Init = LoraInit.Default, Generator? Generator = null, bool UseDora = false, int? PissaNiter = null);

/// <summary>Wraps the target linear layers of a model in <see cref="LoraLinear"/> and freezes everything else.</summary>
public static class LoraInjector
{
    /// <summary>
    /// Replaces every matching linear layer and freezes all parameters but the <c>lora_</c> ones.
    /// Returns the wrapped modules by path. A target list that matches nothing is an error listing what exists;
    /// an empty target list wraps nothing and only freezes (a classifier then trains its head alone).
    /// </summary>
    public static IReadOnlyDictionary<string, LoraLinear> Inject(nn.Module model, LoraSettings settings, IEnumerable<string>? outputLayers = null)
    {
        var matcher = new TargetMatcher(settings.TargetModules, outputLayers);
        var (wrapped, seen) = LinearWrapping.Wrap(model, (path, linear) => matcher.Matches(path)
            ? new LoraLinear(linear, settings.R, settings.Alpha, settings.Dropout, settings.UseRslora, settings.Init, settings.Generator, settings.UseDora, settings.PissaNiter)
            : null);
        if (wrapped.Count == 0 && settings.TargetModules.Count > 0)
            throw new LoraTargetException(settings.TargetModules, seen);
        Freeze(model);
        return wrapped;
    }

    /// <summary>Only parameters whose path contains the <c>lora_</c> prefix take gradients.</summary>
    public static void Freeze(nn.Module model, IReadOnlyCollection<string>? modulesToSave = null)
    {
        foreach (var (name, p) in model.named_parameters())
        {
            bool trainable = IsAdapterParameter(name) || (modulesToSave?.Any(m => name.StartsWith(m + ".", StringComparison.Ordinal) || name.Contains("." + m + ".", StringComparison.Ordinal)) ?? false);
            p.requires_grad = trainable;
        }
    }

    /// <summary>True for adapter parameters — LoRA A/B and DoRA's magnitude (<c>lora_</c>), IA3's vectors (<c>ia3_</c>), bottleneck adapters' projections (<c>adapter_</c>):
    /// the one naming contract for freezing and saving.</summary>
    /// <remarks>A prompt-learning module is the model's <c>prompt_encoder</c> child: all its parameters train.</remarks>
    public static bool IsAdapterParameter(string parameterPath) =>
        parameterPath.StartsWith(PromptInjector.ModuleName + ".", StringComparison.Ordinal) ||
        new[] { LoraLinear.ParameterPrefix, Ia3Linear.ParameterPrefix, BottleneckLinear.ParameterPrefix }.Any(prefix =>
            parameterPath.Contains("." + prefix, StringComparison.Ordinal) || parameterPath.StartsWith(prefix, StringComparison.Ordinal));
}

/// <summary>The recipe's <c>target_modules</c> (or <c>ia3.target_modules</c>) matched no linear layer of the model, or an
/// IA3 setting cannot be resolved for it.</summary>
public sealed class LoraTargetException : Exception
{
    public LoraTargetException(IReadOnlyList<string> targets, IReadOnlyList<string> available, string key = "lora.target_modules")
        : base(BuildMessage(targets, available, key)) => Available = available;

    public LoraTargetException(string message) : base(message) => Available = [];

    /// <summary>Linear module paths the model does have.</summary>
    public IReadOnlyList<string> Available { get; }

    private static string BuildMessage(IReadOnlyList<string> targets, IReadOnlyList<string> available, string key)
    {
        var names = available.Select(p => p[(p.LastIndexOf('.') + 1)..]).Distinct().OrderBy(n => n, StringComparer.Ordinal);
        return $"{key} [{string.Join(", ", targets)}] matched no linear layer of this model. " +
               $"Its linear layers are: {string.Join(", ", names)} (e.g. {available.FirstOrDefault() ?? "none"}); " +
               "use one of these names, a 're:' regex over full paths, or all-linear.";
    }
}
