namespace LoraRecipes.Training;

/// <summary>How a run starts and guards itself; what the recipe does not say (it describes the training, not the session).</summary>
public sealed record TrainerOptions
{
    /// <summary>Continue from the newest checkpoint in <c>&lt;output&gt;/checkpoints</c> when there is one.</summary>
    public bool Resume { get; init; }

    /// <summary>Resume even when the checkpoint was written for a different plan fingerprint.</summary>
    public bool Force { get; init; }

    /// <summary>Checkpoints kept on disk (the newest ones).</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>Under <c>on_nan: skip_step</c>, this many non-finite steps in a row stop the run.</summary>
    public int MaxConsecutiveSkippedSteps { get; init; } = 10;

    /// <summary>
    /// Where tokenized data files are kept and memory-mapped from (<see cref="Data.TokenCache"/>); null: <c>tokens/</c>
    /// under the per-user cache folder ($LORA_CACHE, else $XDG_CACHE_HOME/lorarecipes, else ~/.cache/lorarecipes).
    /// </summary>
    public string? TokenCacheDirectory { get; init; }

    /// <summary>False: tokenize the data into memory on every run and write no cache file (same examples, same order).</summary>
    public bool CacheTokens { get; init; } = true;
}

/// <summary>
/// The run stopped at a step boundary because it was asked to (Ctrl+C, SIGTERM). <see cref="Checkpoint"/> holds the
/// state to continue from with <c>--resume</c> (null when it stopped before its first step).
/// </summary>
public sealed class TrainingInterruptedException(int step, string? checkpoint)
    : OperationCanceledException(checkpoint is null ? $"interrupted at step {step}, before anything was trained" : $"interrupted at step {step}; checkpoint saved to {checkpoint}")
{
    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; } = step;

    /// <summary>The checkpoint folder written (or already current) at that step; null if nothing was trained.</summary>
    public string? Checkpoint { get; } = checkpoint;
}
