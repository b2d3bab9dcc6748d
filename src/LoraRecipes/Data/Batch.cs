using LoraRecipes.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Data;

/// <summary>
/// A padded batch: ids and labels (B, T) int64; labels -100 on padding and masked prompt tokens. A batch of
/// packed rows also carries position ids (B, T) and a block-diagonal causal mask (B, 1, T, T).
/// </summary>
public sealed class Batch(Tensor inputIds, Tensor labels, int tokens, int trainedTokens, Tensor? positionIds = null, Tensor? attentionMask = null) : IDisposable
{
    public Tensor InputIds { get; } = inputIds;
    public Tensor Labels { get; } = labels;
    /// <summary>Positions (B, T) restarting at 0 for each packed sample; null for unpacked rows.</summary>
    public Tensor? PositionIds { get; } = positionIds;
    /// <summary>(B, 1, T, T) bool, true where a query may attend; null for unpacked rows (plain causal).</summary>
    public Tensor? AttentionMask { get; } = attentionMask;
    /// <summary>Real (non-pad) tokens in the batch: the unit of tokens/s.</summary>
    public int Tokens { get; } = tokens;
    /// <summary>Tokens that count in the loss.</summary>
    public int TrainedTokens { get; } = trainedTokens;

    /// <summary>Logits (B, T, V) of <paramref name="model"/> for this batch, packed or not.</summary>
    public Tensor Logits(nn.Module<Tensor, Tensor> model) =>
        PositionIds is null ? model.forward(InputIds)
        : ((ICausalLM)model).Forward(InputIds, PositionIds, AttentionMask!);

    /// <summary>Final hidden states (B, T, H) of <paramref name="model"/> for this batch, packed or not (before the head).</summary>
    public Tensor Hidden(ICausalLM model) => model.Hidden(InputIds, PositionIds, AttentionMask);

    /// <summary>
    /// Right-pads examples to the longest one. Right padding keeps causal attention exact for the real tokens.
    /// When any example is a packed row, the batch gets position ids and a block-diagonal causal mask.
    /// </summary>
    public static Batch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device? device = null)
    {
        int b = examples.Count, t = examples.Max(e => e.InputIds.Length);
        var ids = new long[b * t];
        var labels = new long[b * t];
        Array.Fill(ids, padId);
        Array.Fill(labels, ExampleEncoder.IgnoreIndex);
        int tokens = 0, trained = 0;
        for (int i = 0; i < b; i++)
        {
            var e = examples[i];
            for (int j = 0; j < e.InputIds.Length; j++)
            {
                ids[i * t + j] = e.InputIds[j];
                labels[i * t + j] = e.Labels[j];
            }
            tokens += e.InputIds.Length;
            trained += e.TrainedTokens;
        }
        var idTensor = tensor(ids, new long[] { b, t }, ScalarType.Int64);
        var labelTensor = tensor(labels, new long[] { b, t }, ScalarType.Int64);
        Tensor? positions = null, mask = null;
        if (examples.Any(e => e.SegmentLengths is not null)) (positions, mask) = PackedLayout(examples, t);
        if (device is not null && device.type != DeviceType.CPU)
        {
            idTensor = idTensor.to(device);
            labelTensor = labelTensor.to(device);
            positions = positions?.to(device);
            mask = mask?.to(device);
        }
        return new Batch(idTensor, labelTensor, tokens, trained, positions, mask);
    }

    /// <summary>
    /// Positions restarting per sample and mask[b, 0, i, j] = (segment(i) == segment(j)) ∧ j ≤ i. Padding forms one
    /// more segment of its own, so no query row is fully masked (an all-masked softmax row would be NaN).
    /// </summary>
    private static (Tensor Positions, Tensor Mask) PackedLayout(IReadOnlyList<TokenizedExample> examples, int t)
    {
        int b = examples.Count;
        var positions = new long[b * t];
        var segments = new long[b * t];
        for (int i = 0; i < b; i++)
        {
            int at = 0, segment = 0;
            foreach (int length in examples[i].SegmentLengths ?? [examples[i].InputIds.Length])
            {
                for (int j = 0; j < length; j++, at++) (positions[i * t + at], segments[i * t + at]) = (j, segment);
                segment++;
            }
            for (int j = 0; at < t; j++, at++) (positions[i * t + at], segments[i * t + at]) = (j, segment);
        }
        using var scope = NewDisposeScope();
        var seg = tensor(segments, new long[] { b, t }, ScalarType.Int64);
        var causal = ones(t, t, ScalarType.Bool).tril();                                  // (T, T)
        var mask = seg.unsqueeze(2).eq(seg.unsqueeze(1)).logical_and(causal).unsqueeze(1);  // (B, 1, T, T)
        return (tensor(positions, new long[] { b, t }, ScalarType.Int64).MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        PositionIds?.Dispose();
        AttentionMask?.Dispose();
    }
}
