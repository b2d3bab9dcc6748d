using LoraRecipes.Events;

namespace LoraRecipes.Training;

/// <summary>Where a run stands: everything the loop mutates, and what a checkpoint saves besides tensors.</summary>
internal sealed class TrainingProgress
{
    /// <summary>Optimizer steps done, skipped ones included (the scheduler position).</summary>
    public int Step;
    /// <summary>Epoch and next micro-batch to start from.</summary>
    public int Epoch, BatchIndex;
    public long TokensSeen;
    public double TrainSeconds;
    public double? InitialValidationLoss, LastValidationLoss, LastTrainLoss;
    public int SkippedSteps, ConsecutiveSkipped;
    public int? ResumedFrom;
    public int LastCheckpointStep = -1;
    public string? LastCheckpoint;
    /// <summary>The events metrics.jsonl records (steps, evaluations, samples), in order; a checkpoint carries them.</summary>
    public List<TrainingEvent> Logged = new();

    public double TokensPerSecond => TokensSeen / Math.Max(TrainSeconds, 1e-9);
}
