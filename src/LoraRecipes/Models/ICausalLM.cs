using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>A decoder-only language model: token ids in, next-token logits out.</summary>
public interface ICausalLM
{
    /// <summary>The config the model was built from.</summary>
    ModelConfig Config { get; }

    /// <summary>Decoder layers (for the KV cache).</summary>
    int NumLayers { get; }

    /// <summary>Logits (B, T, V) for ids (B, T); with a cache, the ids continue the cached positions.</summary>
    Tensor Forward(Tensor inputIds, KvCache? cache);

    /// <summary>
    /// Logits (B, T, V) for packed rows: <paramref name="positionIds"/> (B, T) restart at 0 for each packed sample,
    /// <paramref name="attentionMask"/> (B, 1, T, T) bool is true where a query may attend (block-diagonal causal).
    /// </summary>
    Tensor Forward(Tensor inputIds, Tensor positionIds, Tensor attentionMask);

    /// <summary>
    /// Final hidden states (B, T, H), before the head. Packed rows pass <paramref name="positionIds"/> and
    /// <paramref name="attentionMask"/> as in <see cref="Forward(Tensor, Tensor, Tensor)"/>; plain rows pass neither.
    /// </summary>
    /// <remarks>
    /// With <see cref="Head"/> this lets the loss compute logits only where a label is scored (see
    /// <see cref="Evaluation.CausalLoss.FromHidden"/>): prompt and padding positions need no logits.
    /// </remarks>
    Tensor Hidden(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null);

    /// <summary>Final hidden states (B, T, H) of ids that continue the <paramref name="cache"/>d positions (appending to it).</summary>
    /// <remarks>Generation applies <see cref="Head"/> to the last position only: a prompt's other positions need no logits.</remarks>
    Tensor Hidden(Tensor inputIds, KvCache cache);

    /// <summary>The language-model head: hidden states (…, H) to logits (…, V) in the model's dtype.</summary>
    Tensor Head(Tensor hidden);
}
