using LoraRecipes.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>Wraps the chosen output projections of a model in <see cref="BottleneckLinear"/> and freezes everything else.</summary>
public static class BottleneckInjector
{
    /// <summary>
    /// Replaces every linear layer matched by <see cref="BottleneckSettings.Targets"/>, in module order (so a run's
    /// generator initialises them in the same order every time). Matching nothing is an error naming the recipe key.
    /// </summary>
    public static IReadOnlyDictionary<string, BottleneckLinear> Inject(nn.Module model, BottleneckSettings settings, IEnumerable<string>? outputLayers = null)
    {
        var targets = new TargetMatcher(settings.Targets, outputLayers);
        var (wrapped, seen) = LinearWrapping.Wrap(model, (path, linear) => targets.Matches(path)
            ? new BottleneckLinear(linear, settings.WidthFor(linear.weight!.shape[0]), settings.NonLinearity, settings.Init, settings.Dropout, settings.Generator)
            : null);
        if (wrapped.Count == 0)
            throw new LoraTargetException(settings.Targets, seen, "bottleneck_adapter.placement");
        LoraInjector.Freeze(model);
        return wrapped;
    }
}
