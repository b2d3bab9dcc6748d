using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>HF's rotate-half rotary position embedding (not the interleaved GPT-J form).</summary>
/// <remarks>
/// Frequencies are θ^(−2i/d) for i in [0, d/2), rescaled by the config's <see cref="RopeScaling"/> (llama3, yarn, …);
/// cos/sin are built for the whole table once (times yarn's attention factor) and sliced per call.
/// q·R(m) · k·R(n) then depends only on m − n.
/// </remarks>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _cos; // (maxPositions, headDim)
    private readonly Tensor _sin;

    public RotaryEmbedding(int headDim, int maxPositions, double theta, RopeScaling? scaling = null)
    {
        using var scope = NewDisposeScope();
        var (inverse, attentionScaling) = (scaling ?? RopeScaling.None).Compute(headDim, theta, maxPositions);
        var invFreq = tensor(inverse, dtype: ScalarType.Float64);                                      // (d/2)
        var positions = arange(maxPositions, dtype: ScalarType.Float64);
        var freqs = outer(positions, invFreq);                                                         // (P, d/2)
        var emb = cat(new[] { freqs, freqs }, dim: -1);                                                // (P, d)
        _cos = (emb.cos() * attentionScaling).to(ScalarType.Float32).MoveToOuterDisposeScope();
        _sin = (emb.sin() * attentionScaling).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Longest sequence the tables cover.</summary>
    public long MaxPositions => _cos.shape[0];

    /// <summary>Rotates q or k of shape (B, nh, T, hd) whose first position is <paramref name="offset"/>.</summary>
    public Tensor Apply(Tensor x, long offset)
    {
        long t = x.shape[2];
        if (offset + t > MaxPositions)
            throw new InvalidOperationException($"sequence of {offset + t} tokens exceeds the model's {MaxPositions} positions");
        using var scope = NewDisposeScope();
        var cos = _cos.narrow(0, offset, t).to(x.dtype, x.device);   // (T, hd) broadcast over (B, nh)
        var sin = _sin.narrow(0, offset, t).to(x.dtype, x.device);
        return (x * cos + RotateHalf(x) * sin).MoveToOuterDisposeScope();
    }

    /// <summary>Rotates q or k of shape (B, nh, T, hd) at explicit positions (B, T) (packed rows restart at 0).</summary>
    public Tensor Apply(Tensor x, Tensor positionIds)
    {
        long b = x.shape[0], t = x.shape[2];
        using var scope = NewDisposeScope();
        var flat = positionIds.reshape(-1).to(_cos.device);
        var cos = _cos.index_select(0, flat).view(b, 1, t, -1).to(x.dtype, x.device);   // (B, 1, T, hd)
        var sin = _sin.index_select(0, flat).view(b, 1, t, -1).to(x.dtype, x.device);
        return (x * cos + RotateHalf(x) * sin).MoveToOuterDisposeScope();
    }

    private static Tensor RotateHalf(Tensor x)
    {
        var halves = x.chunk(2, dim: -1);
        return cat(new[] { -halves[1], halves[0] }, dim: -1);
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
