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
        var wrapped = new SortedDictionary<string, BottleneckLinear>(StringComparer.Ordinal);
        var seen = new List<string>();
        foreach (var (hostPath, module) in model.named_modules().ToList())
        {
            if (module is not ILinearHost host) continue;
            foreach (var (name, child) in host.LinearChildren().ToList())
            {
                string path = hostPath.Length == 0 ? name : hostPath + "." + name;
                if (child is not Linear linear) continue;
                seen.Add(path);
                if (!targets.Matches(path)) continue;
                var adapter = new BottleneckLinear(linear, settings.WidthFor(linear.weight!.shape[0]), settings.NonLinearity, settings.Init, settings.Dropout, settings.Generator);
                host.ReplaceLinear(name, adapter);
                wrapped[path] = adapter;
            }
        }
        if (wrapped.Count == 0)
            throw new LoraTargetException(settings.Targets, seen, "bottleneck_adapter.placement");
        LoraInjector.Freeze(model);
        return wrapped;
    }
}
