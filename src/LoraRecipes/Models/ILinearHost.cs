using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>A module whose linear children may be swapped for wrappers (LoRA) without the module knowing why.</summary>
/// <remarks>
/// TorchSharp's forward calls C# fields, so registering a new child is not enough (PyTorch's setattr does
/// both); each block replaces the field and the registration together.
/// </remarks>
public interface ILinearHost
{
    /// <summary>The replaceable children, by their HF name (e.g. <c>q_proj</c>).</summary>
    IEnumerable<(string Name, nn.Module<Tensor, Tensor> Module)> LinearChildren();

    /// <summary>Replaces the child called <paramref name="name"/> in both the field and the module registry.</summary>
    void ReplaceLinear(string name, nn.Module<Tensor, Tensor> replacement);
}
