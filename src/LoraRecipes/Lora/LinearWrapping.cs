using LoraRecipes.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// The walk every method's injector shares: each plain <see cref="Linear"/> child of every <see cref="ILinearHost"/>, in
/// module order (so a run's generator initialises the wrappers in the same order every time), offered to the method,
/// which returns its wrapper or null to leave the layer alone.
/// </summary>
internal static class LinearWrapping
{
    /// <summary>
    /// Replaces each linear layer <paramref name="wrap"/> returns a wrapper for (called with the layer's full path, e.g.
    /// <c>model.layers.0.self_attn.q_proj</c>). Returns the wrappers by path and every linear path seen, which a method
    /// lists in its "matches nothing" error.
    /// </summary>
    public static (SortedDictionary<string, T> Wrapped, List<string> Seen) Wrap<T>(nn.Module model, Func<string, Linear, T?> wrap)
        where T : nn.Module<Tensor, Tensor>
    {
        var wrapped = new SortedDictionary<string, T>(StringComparer.Ordinal);
        var seen = new List<string>();
        foreach (var (hostPath, module) in model.named_modules().ToList())
        {
            if (module is not ILinearHost host) continue;
            foreach (var (name, child) in host.LinearChildren().ToList())
            {
                if (child is not Linear linear) continue;
                string path = hostPath.Length == 0 ? name : hostPath + "." + name;
                seen.Add(path);
                if (wrap(path, linear) is not { } wrapper) continue;
                host.ReplaceLinear(name, wrapper);
                wrapped[path] = wrapper;
            }
        }
        return (wrapped, seen);
    }
}
