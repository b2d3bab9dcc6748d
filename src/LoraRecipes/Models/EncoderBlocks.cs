using static TorchSharp.torch;

namespace LoraRecipes.Models;

// What the bidirectional encoders (BERT, DistilBERT) compute the same way. Their modules stay in their own files
// under HF's names (BertLayer.attention.self.query, DistilBertBlock.attention.q_lin, …): those names are the
// parameter paths, so only the arithmetic lives here.

/// <summary>A post-norm encoder layer that attends under a padding key mask (BERT's layer, DistilBERT's block).</summary>
internal interface IEncoderLayer
{
    /// <summary>
    /// Hidden states (B, T, H) → (B, T, H); keys where <paramref name="keyMask"/> (B, 1, 1, n + T) is false get no weight;
    /// <paramref name="prefix"/>: prefix tuning's (B, nh, n, hd) keys and values before the layer's own (n = 0 without).
    /// </summary>
    Tensor Forward(Tensor x, Tensor keyMask, (Tensor Keys, Tensor Values)? prefix = null);
}

/// <summary>The stack of encoder layers (BERT's <c>encoder.layer</c>, DistilBERT's <c>transformer.layer</c>).</summary>
internal static class EncoderStack
{
    /// <summary>x (B, T, H) through every layer in order, layer l with <paramref name="prefix"/>[l] if given; the caller keeps <paramref name="x"/>.</summary>
    public static Tensor Forward(IEnumerable<IEncoderLayer> layers, Tensor x, Tensor keyMask, IReadOnlyList<(Tensor Keys, Tensor Values)>? prefix = null)
    {
        var h = x.alias();
        int l = 0;
        foreach (var layer in layers)
        {
            var next = layer.Forward(h, keyMask, prefix?[l++]);
            h.Dispose();   // each layer's input goes once its output exists
            h = next;
        }
        return h;
    }

    /// <summary>
    /// Parameters in <paramref name="layers"/> post-norm layers of width <paramref name="hidden"/>: q, k, v and the
    /// output projection (H → H), a LayerNorm, the feed-forward H → I → H, a LayerNorm.
    /// </summary>
    public static long ParameterCount(int layers, long hidden, long intermediate)
    {
        long h = hidden, i = intermediate;
        return layers * (4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h);
    }
}

/// <summary>Scaled dot-product attention over all real tokens, shared by BERT and DistilBERT.</summary>
internal static class EncoderAttention
{
    /// <summary>
    /// q, k, v (B, T, H) split into heads; with <paramref name="prefix"/> (B, nh, n, hd) keys and values put before k and v
    /// (HF's past_key_value in BERT's self-attention); keys where <paramref name="keyMask"/> (B, 1, 1, n + T) is false get no weight.
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int heads, Tensor keyMask, (Tensor Keys, Tensor Values)? prefix = null)
    {
        using var scope = NewDisposeScope();
        long b = q.shape[0], t = q.shape[1], h = q.shape[2];
        Tensor Heads(Tensor x) => x.view(b, t, heads, h / heads).transpose(1, 2);                    // (B, nh, T, hd)
        var (keys, values) = (Heads(k), Heads(v));
        if (prefix is var (pk, pv)) (keys, values) = (cat(new[] { pk, keys }, dim: 2), cat(new[] { pv, values }, dim: 2));   // (B, nh, n + T, hd)
        var y = nn.functional.scaled_dot_product_attention(Heads(q), keys, values, keyMask, 0.0, false);
        return y.transpose(1, 2).reshape(b, t, h).MoveToOuterDisposeScope();                          // (B, T, H)
    }
}

/// <summary>Checkpoint names shared by the encoders.</summary>
internal static class EncoderCheckpoint
{
    /// <summary>The HF path; the path without the base prefix (a bare <c>BertModel</c> checkpoint); TF-era gamma/beta names.</summary>
    public static IEnumerable<string> Names(string path, string basePrefix)
    {
        var bare = path.StartsWith(basePrefix, StringComparison.Ordinal) ? path[basePrefix.Length..] : null;
        foreach (var name in bare is null ? [path] : new[] { path, bare })
        {
            yield return name;
            if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal)) yield return name[..^"weight".Length] + "gamma";
            if (name.EndsWith("LayerNorm.bias", StringComparison.Ordinal)) yield return name[..^"bias".Length] + "beta";
        }
    }
}
