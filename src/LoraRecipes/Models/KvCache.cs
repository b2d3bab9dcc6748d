using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>Keys and values of past positions, one pair per layer, for incremental decoding.</summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;

    public KvCache(int layers)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
    }

    /// <summary>Positions already cached (the offset of the next token).</summary>
    public long Length => _keys[0]?.shape[2] ?? 0;

    /// <summary>Appends this step's (B, nkv, T, hd) keys/values and returns the full ones.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        var k = _keys[layer] is { } pastK ? cat(new[] { pastK, keys }, dim: 2) : keys.alias();
        var v = _values[layer] is { } pastV ? cat(new[] { pastV, values }, dim: 2) : values.alias();
        _keys[layer]?.Dispose();
        _values[layer]?.Dispose();
        _keys[layer] = k.DetachFromDisposeScope();
        _values[layer] = v.DetachFromDisposeScope();
        return (k.alias(), v.alias());
    }

    public void Dispose()
    {
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
    }
}
