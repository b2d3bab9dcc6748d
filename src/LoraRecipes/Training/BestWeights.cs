using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>
/// <c>evaluation.keep: best</c>: a copy of every trainable tensor (adapter weights and the modules_to_save head) as they
/// were at the best evaluation; checkpoints carry it (<see cref="Prefix"/>), and before saving it replaces the last weights.
/// </summary>
internal sealed class BestWeights : IDisposable
{
    /// <summary>Prefix of these tensors in a checkpoint's state.safetensors.</summary>
    public const string Prefix = "best.";

    private readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);

    /// <summary>The copies by parameter name; empty before the first capture.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>Copies the current values of <paramref name="trainable"/> (the model's weights are not touched).</summary>
    public void Capture(IReadOnlyList<(string Name, Parameter Param)> trainable)
    {
        using var guard = no_grad();
        foreach (var (name, param) in trainable)
        {
            if (_tensors.TryGetValue(name, out var held)) held.copy_(param);
            else _tensors[name] = param.detach().clone();
        }
    }

    /// <summary>Takes over a tensor read from a checkpoint.</summary>
    public void Set(string name, Tensor value)
    {
        if (_tensors.Remove(name, out var old)) old.Dispose();
        _tensors[name] = value;
    }

    /// <summary>Writes the copies back into the model's parameters.</summary>
    public void CopyInto(IReadOnlyList<(string Name, Parameter Param)> trainable)
    {
        using var guard = no_grad();
        foreach (var (name, param) in trainable) param.copy_(_tensors[name]);
    }

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
