using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>
/// A model whose attention layers can take learned past keys and values (PEFT's PREFIX_TUNING): every family with HF's
/// <c>past_key_values</c> — the Llama-style decoders, GPT-2 and BERT. DistilBERT has no past key/values in HF, so PEFT
/// cannot prefix-tune it, and neither do we.
/// </summary>
public interface IPrefixHost
{
    /// <summary>The slot prefix tuning fills; empty by default (the plain base model).</summary>
    PrefixSlot Prefix { get; }
}

/// <summary>
/// Where a family's attention takes its prefix from. <see cref="Source"/> returns PEFT's flat prefix
/// (n, L·2·token_dim), token_dim = kv_heads · head_dim, recomputed each forward so a projection gets its gradients.
/// </summary>
/// <remarks>
/// PEFT's layout (<c>PeftModel.get_prompt</c>): the flat prefix is viewed as (n, 2L, kv_heads, head_dim) and permuted to
/// (2L, kv_heads, n, head_dim); layer l's keys are entry 2l and its values entry 2l + 1. HF then treats them as a cache of
/// n past positions: they are used as they are (a decoder's RoPE is applied to new keys only), the real tokens take
/// positions n, n+1, … (decoders and BERT's learned positions alike), every query attends to all n prefix keys, and the
/// attention mask gets n ones in front (PEFT's <c>prefix_attention_mask</c>). The hidden states stay T long: the prefix
/// lives in the attention only.
/// </remarks>
public sealed class PrefixSlot
{
    /// <summary>Geometry of one model: <paramref name="layers"/> attention layers of <paramref name="kvHeads"/> key/value heads of width <paramref name="headDim"/>.</summary>
    public PrefixSlot(int layers, int kvHeads, int headDim) => (Layers, KvHeads, HeadDim) = (layers, kvHeads, headDim);

    /// <summary>Returns the flat (n, L·2·token_dim) prefix; null: none.</summary>
    public Func<Tensor>? Source { get; set; }

    /// <summary>n, the prefix length (0 when empty).</summary>
    public int Count { get; set; }

    /// <summary>L, PEFT's <c>num_layers</c>.</summary>
    public int Layers { get; }

    /// <summary>PEFT's <c>num_attention_heads</c> for prefix tuning: the key/value heads (GQA models have fewer than query heads).</summary>
    public int KvHeads { get; }

    /// <summary>The width of one head.</summary>
    public int HeadDim { get; }

    /// <summary>PEFT's <c>token_dim</c> for prefix tuning: kv_heads · head_dim.</summary>
    public int TokenDim => KvHeads * HeadDim;

    /// <summary>L · 2 · token_dim: the width of the flat prefix.</summary>
    public long FlatWidth => (long)Layers * 2 * TokenDim;

    /// <summary>True when a forward that starts a sequence must put the prefix before its keys and values.</summary>
    public bool Active => Source is not null && Count > 0;

    /// <summary>
    /// Per layer, the prefix keys and values (B, kv_heads, n, head_dim) in <paramref name="dtype"/>: PEFT's
    /// <c>past_key_values</c> for a batch of <paramref name="batch"/>.
    /// </summary>
    public IReadOnlyList<(Tensor Keys, Tensor Values)> KeyValues(long batch, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var flat = Source!().to(dtype).to(device);                                              // (n, L·2·token_dim)
        var perLayer = flat.view(Count, 2 * Layers, KvHeads, HeadDim).permute(1, 2, 0, 3);       // (2L, kvh, n, hd)
        var result = new List<(Tensor, Tensor)>(Layers);
        for (int l = 0; l < Layers; l++)
        {
            var k = perLayer[2 * l].unsqueeze(0).expand(batch, KvHeads, Count, HeadDim);
            var v = perLayer[2 * l + 1].unsqueeze(0).expand(batch, KvHeads, Count, HeadDim);
            result.Add((k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope()));
        }
        return result;
    }

    /// <summary>Puts the prefix into an empty <paramref name="cache"/>, so the forward continues at position n (decoders).</summary>
    public void Seed(KvCache cache, long batch, ScalarType dtype, Device device)
    {
        if (cache.Length != 0) throw new InvalidOperationException("the prefix goes into an empty cache");
        var pairs = KeyValues(batch, dtype, device);
        for (int l = 0; l < pairs.Count; l++)
        {
            var (k, v) = pairs[l];
            using (k)
            using (v)
            {
                var (keys, values) = cache.Append(l, k, v);
                keys.Dispose();
                values.Dispose();
            }
        }
    }

    /// <summary>(B, T) padding mask → (B, n + T) with ones for the prefix keys (PEFT's <c>prefix_attention_mask</c>).</summary>
    public Tensor ExtendMask(Tensor attentionMask) => VirtualTokenSlot.PrependOnes(attentionMask, Count);

    /// <summary>The error for a forward the prefix cannot join (packed rows).</summary>
    internal static NotSupportedException PackedRows() =>
        new("prefix tuning cannot be combined with packed rows (each packed sample would need its own prefix): set data.packing: false");
}
