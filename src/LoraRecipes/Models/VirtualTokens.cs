using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>
/// A model whose input embeddings can be preceded by learned virtual tokens (PEFT's PROMPT_TUNING and P_TUNING). Every
/// family that trains implements it the same way: it holds one <see cref="VirtualTokenSlot"/>, embeds the token ids with
/// its word embeddings, and lets the slot prepend the virtual tokens before anything else (positions, token types,
/// layer norm) sees the sequence — what PEFT does by passing <c>inputs_embeds = cat(prompts, word_embeddings(ids))</c>.
/// </summary>
public interface IVirtualTokenHost
{
    /// <summary>The slot the prompt method fills; empty by default (the plain base model).</summary>
    VirtualTokenSlot VirtualTokens { get; }

    /// <summary>The word embeddings of <paramref name="ids"/> (…, H): PEFT's <c>word_embeddings</c> (prompt tuning's init from text).</summary>
    Tensor WordEmbeddings(Tensor ids);

    /// <summary>The embedding width H (PEFT's <c>token_dim</c>).</summary>
    int TokenDim { get; }
}

/// <summary>
/// Where a family's forward takes its virtual tokens from. <see cref="Source"/> returns the (n, H) virtual-token
/// embeddings (recomputed each forward, so a p-tuning encoder gets gradients); null means no virtual tokens.
/// </summary>
/// <remarks>
/// PEFT's semantics, shared by all families: the virtual tokens come first; the attention mask gets ones for them; positions
/// count them (a decoder's real tokens start at position n, as HF numbers <c>inputs_embeds</c> of length n + T); a decoder
/// with a KV cache prepends them only at the prefill (an empty cache), as PEFT's <c>prepare_inputs_for_generation</c>.
/// </remarks>
public sealed class VirtualTokenSlot
{
    /// <summary>Returns (n, H) embeddings; null: none.</summary>
    public Func<Tensor>? Source { get; set; }

    /// <summary>n, the number of virtual tokens (0 when empty).</summary>
    public int Count { get; set; }

    /// <summary>True when a forward that starts a sequence must prepend virtual tokens.</summary>
    public bool Active => Source is not null && Count > 0;

    /// <summary>(B, T, H) → (B, n + T, H): the virtual tokens, repeated over the batch, then <paramref name="embeddings"/>.</summary>
    public Tensor Prepend(Tensor embeddings)
    {
        using var scope = NewDisposeScope();
        var prompts = Source!().to(embeddings.dtype).to(embeddings.device);                   // (n, H)
        var batch = prompts.unsqueeze(0).expand(embeddings.shape[0], prompts.shape[0], prompts.shape[1]);   // (B, n, H)
        return cat(new[] { batch, embeddings }, dim: 1).MoveToOuterDisposeScope();
    }

    /// <summary>(B, T) padding mask → (B, n + T) with ones for the virtual tokens (PEFT's <c>prefix_attention_mask</c>).</summary>
    public Tensor ExtendMask(Tensor attentionMask) => PrependOnes(attentionMask, Count);

    /// <summary>(B, T) padding mask → (B, n + T) with n ones in front: the mask PEFT gives any prompt-learning method's n positions.</summary>
    internal static Tensor PrependOnes(Tensor attentionMask, int n)
    {
        using var scope = NewDisposeScope();
        var ones = TorchSharp.torch.ones(attentionMask.shape[0], n, dtype: attentionMask.dtype, device: attentionMask.device);
        return cat(new[] { ones, attentionMask }, dim: 1).MoveToOuterDisposeScope();
    }

    /// <summary>(B, n + T, …) → (B, T, …): the real tokens' positions (a causal LM's logits are only read there).</summary>
    public Tensor Strip(Tensor hidden) => hidden[.., Count..];

    /// <summary>The error for a forward the virtual tokens cannot join (packed rows).</summary>
    internal static NotSupportedException PackedRows() =>
        new("virtual tokens (prompt_tuning, p_tuning) cannot be prepended to packed rows: set data.packing: false");
}
