namespace LoraRecipes.Recipes;

/// <summary><c>training:</c> — optimisation.</summary>
public sealed record TrainingOptions
{
    /// <summary><c>epochs</c>: passes over the data (≥ 1).</summary>
    public required int Epochs { get; init; }

    /// <summary><c>max_steps</c>: stop after this many optimizer steps; null runs all epochs.</summary>
    public required int? MaxSteps { get; init; }

    /// <summary><c>batch_size</c>: examples per micro-batch (≥ 1).</summary>
    public required int BatchSize { get; init; }

    /// <summary><c>gradient_accumulation</c>: micro-batches per optimizer step (≥ 1).</summary>
    public required int GradientAccumulation { get; init; }

    /// <summary><c>learning_rate</c>: peak AdamW learning rate (&gt; 0).</summary>
    public required double LearningRate { get; init; }

    /// <summary><c>weight_decay</c>: AdamW weight decay (≥ 0).</summary>
    public required double WeightDecay { get; init; }

    /// <summary><c>scheduler</c>: schedule after warm-up.</summary>
    public required LrScheduler Scheduler { get; init; }

    /// <summary><c>warmup_ratio</c>: fraction of steps warming up, in [0, 1).</summary>
    public required double WarmupRatio { get; init; }

    /// <summary><c>max_grad_norm</c>: clipping norm (&gt; 0); null disables clipping.</summary>
    public required double? MaxGradNorm { get; init; }

    /// <summary><c>seed</c>: seed for initialisation, shuffling and dropout.</summary>
    public required int Seed { get; init; }

    /// <summary><c>device</c>: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public required string Device { get; init; }

    /// <summary><c>precision</c>: compute precision.</summary>
    public required Precision Precision { get; init; }

    /// <summary><c>checkpoint_every</c>: steps between resumable checkpoints (≥ 1).</summary>
    public required int CheckpointEvery { get; init; }

    /// <summary><c>threads</c>: CPU threads (≥ 1); null uses one per physical core.</summary>
    public required int? Threads { get; init; }

    /// <summary><c>on_nan</c>: what a NaN or infinite loss does.</summary>
    public required NanPolicy OnNan { get; init; }
}
