using System.Diagnostics;
using LoraRecipes.Data;
using LoraRecipes.Training.Tasks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>
/// One optimizer update: forward/backward over the update's micro-batches (gradient accumulation), clip, and AdamW when the
/// loss and the gradient norm are finite; gradients are zeroed either way. The trainer's loop and the benchmark run this same
/// object; the task supplies the batching and the loss (<see cref="ITaskLoss"/>).
/// </summary>
public sealed class TrainingStep(ITaskLoss loss, nn.Module<Tensor, Tensor> model, AdamW optimizer, int padId, Device device, double? maxGradNorm)
{
    /// <summary>Test hook: when it returns true for a (1-based) step, that step's gradient is poisoned with NaN before clipping.</summary>
    internal Func<int, bool>? InjectNonFiniteGradient { get; set; }

    /// <summary>
    /// Runs update number <paramref name="step"/> (1-based) over <paramref name="window"/> (its micro-batches) at
    /// <paramref name="learningRate"/>. With <paramref name="timings"/>, adds each phase's seconds to it.
    /// </summary>
    public StepResult Run(IReadOnlyList<IReadOnlyList<TokenizedExample>> window, double learningRate, int step, StepTimings? timings = null)
    {
        // Token-weighted (causal LM) or example-weighted (classification) over the whole window: every unit counts once,
        // whatever micro-batch it is in.
        long units = window.Sum(batch => batch.Sum(loss.Units));
        double lossSum = 0;
        long tokens = 0;
        var clock = timings is null ? null : Stopwatch.StartNew();
        foreach (var examples in window)
        {
            using var scope = NewDisposeScope();
            using var batch = loss.Collate(examples, padId, device);
            if (timings is not null) timings.Data += Lap(clock!);
            using var batchLoss = batch.Forward(model, units);
            double sum = batchLoss.Sum;
            if (timings is not null) timings.Forward += Lap(clock!);
            batchLoss.Backward();
            if (timings is not null) timings.Backward += Lap(clock!);
            lossSum += sum;
            tokens += batch.Tokens;
        }
        if (InjectNonFiniteGradient?.Invoke(step) == true && optimizer.Parameters.First().grad is { } g)
            g.fill_(double.NaN);
        double gradNorm;
        using (var clipScope = NewDisposeScope())
        {
            // The total norm before clipping; NaN/inf when any gradient is, checked before stepping.
            gradNorm = nn.utils.clip_grad_norm_(optimizer.Parameters, maxGradNorm ?? double.PositiveInfinity);
        }
        var result = new StepResult(lossSum / Math.Max(units, 1), gradNorm, tokens);
        if (result.IsFinite) optimizer.Step(learningRate);
        optimizer.ZeroGrad();
        if (timings is not null) timings.Optimizer += Lap(clock!);
        return result;
    }

    /// <summary>Seconds since the last lap.</summary>
    private static double Lap(Stopwatch clock)
    {
        double seconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        return seconds;
    }
}

/// <summary>What one update measured: the mean loss over its units, the gradient norm before clipping, the input tokens.</summary>
public readonly record struct StepResult(double Loss, double GradNorm, long Tokens)
{
    /// <summary>False when the loss or the gradient norm is NaN or infinite: the update was not applied.</summary>
    public bool IsFinite => double.IsFinite(Loss) && double.IsFinite(GradNorm);
}

/// <summary>Seconds spent in each phase of <see cref="TrainingStep.Run"/>, summed over the calls that were given this object.</summary>
public sealed class StepTimings
{
    /// <summary>Collating micro-batches (tensors on the device).</summary>
    public double Data;

    /// <summary>Forward and loss (for a causal LM the head's own backward runs here, chunk by chunk).</summary>
    public double Forward;

    /// <summary>Backward through the model.</summary>
    public double Backward;

    /// <summary>Clipping, AdamW and zeroing the gradients.</summary>
    public double Optimizer;

}
