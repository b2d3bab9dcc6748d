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

    /// <summary>Layer <paramref name="layer"/>'s cached (B, nkv, positions, hd) keys and values (views of the cache, not copies).</summary>
    internal (Tensor Keys, Tensor Values) Layer(int layer) =>
        (_keys[layer] ?? throw new InvalidOperationException($"layer {layer} has nothing cached"), _values[layer]!);

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

    /// <summary>
    /// Boolean (Tq, Tk) causal mask for <paramref name="qLen"/> new queries after kLen − qLen cached positions: query i sits
    /// at absolute position kLen − qLen + i and sees key j when j ≤ that (the cache and itself). libtorch's <c>is_causal</c>
    /// aligns the triangle top-left, which is right only for an empty cache (a prefill after a prefix needs this mask).
    /// </summary>
    internal static Tensor CausalMask(long qLen, long kLen, Device device)
    {
        using var scope = NewDisposeScope();
        var qi = arange(kLen - qLen, kLen, device: device).unsqueeze(1);   // (Tq, 1)
        var kj = arange(kLen, device: device).unsqueeze(0);                // (1, Tk)
        return kj.le(qi).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
    }
}
