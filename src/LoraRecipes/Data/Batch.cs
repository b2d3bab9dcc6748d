using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Data;

/// <summary>A padded batch: ids and labels (B, T) int64; labels -100 on padding and masked prompt tokens.</summary>
public sealed class Batch(Tensor inputIds, Tensor labels, int tokens, int trainedTokens) : IDisposable
{
    public Tensor InputIds { get; } = inputIds;
    public Tensor Labels { get; } = labels;
    /// <summary>Real (non-pad) tokens in the batch: the unit of tokens/s.</summary>
    public int Tokens { get; } = tokens;
    /// <summary>Tokens that count in the loss.</summary>
    public int TrainedTokens { get; } = trainedTokens;

    /// <summary>Right-pads examples to the longest one. Right padding keeps causal attention exact for the real tokens.</summary>
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
        if (device is not null && device.type != DeviceType.CPU)
        {
            idTensor = idTensor.to(device);
            labelTensor = labelTensor.to(device);
        }
        return new Batch(idTensor, labelTensor, tokens, trained);
    }

    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
    }
}
