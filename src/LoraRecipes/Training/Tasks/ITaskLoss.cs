using LoraRecipes.Data;
using static TorchSharp.torch;

namespace LoraRecipes.Training.Tasks;

/// <summary>
/// The part of a task a training step runs (<see cref="TrainingStep"/>): the units a step's loss is averaged over, and the
/// micro-batch that computes it. Split in three calls — collate, forward, backward — so a caller can time each phase.
/// </summary>
public interface ITaskLoss
{
    /// <summary>What one example adds to the step's divisor: its scored next-token positions (causal LM) or 1 (classification).</summary>
    long Units(TokenizedExample example);

    /// <summary>The examples as tensors on <paramref name="device"/>, padded with <paramref name="padId"/>.</summary>
    IMicroBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device device);
}

/// <summary>One collated micro-batch. Dispose it (inside the step's dispose scope) after its loss.</summary>
public interface IMicroBatch : IDisposable
{
    /// <summary>Input tokens in the batch, padding excluded (for tokens/s).</summary>
    long Tokens { get; }

    /// <summary>
    /// Forward and loss. The loss's gradient is that of (batch loss sum) / <paramref name="stepUnits"/>, where
    /// <paramref name="stepUnits"/> is the <see cref="ITaskLoss.Units"/> of the whole update: every unit counts once,
    /// whichever micro-batch it is in.
    /// </summary>
    IBatchLoss Forward(nn.Module<Tensor, Tensor> model, long stepUnits);
}

/// <summary>A micro-batch's loss, before its backward.</summary>
public interface IBatchLoss : IDisposable
{
    /// <summary>The summed loss over the batch's units (fp32 per batch or chunk, in double).</summary>
    double Sum { get; }

    /// <summary>Accumulates the scaled gradient into the trainable parameters.</summary>
    void Backward();
}
