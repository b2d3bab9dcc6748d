using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LoraRecipes.Training.Checkpoints;

/// <summary>
/// The small half of a checkpoint (<c>state.json</c>): where training stands and everything that is not a tensor.
/// The tensors (LoRA weights, AdamW moments) are in <c>state.safetensors</c> beside it.
/// </summary>
/// <remarks>
/// Resuming is bit-exact on CPU because nothing else feeds the computation: the data order is a pure function of
/// (seed, epoch) (<see cref="Data.DatasetSplit.Permutation"/>), the learning rate a pure function of <see cref="Step"/>,
/// and the only random draws after setup (LoRA dropout) come from torch's global generator, whose state is saved.
/// </remarks>
public sealed record CheckpointState
{
    /// <summary>The format this code writes. Bump it when a field changes meaning; read older ones through an explicit map.</summary>
    public const int CurrentFormatVersion = 1;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Format of this record (<see cref="CurrentFormatVersion"/> when written by this version).</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>The plan fingerprint of the run that wrote it; a resume with a different one is refused without --force.</summary>
    public required string Fingerprint { get; init; }

    /// <summary>The recipe's name (for messages).</summary>
    public required string Name { get; init; }

    /// <summary>Optimizer steps taken, skipped ones included: the scheduler position.</summary>
    public required int Step { get; init; }

    /// <summary>The epoch to continue in (0-based).</summary>
    public required int Epoch { get; init; }

    /// <summary>The next micro-batch of that epoch's order (0-based; may equal the batch count: epoch-end work is left).</summary>
    public required int BatchIndex { get; init; }

    /// <summary>AdamW's t: updates actually applied (Step minus skipped steps).</summary>
    public required long OptimizerSteps { get; init; }

    /// <summary>Steps skipped so far under <c>on_nan: skip_step</c>, and how many of the last ones in a row.</summary>
    public int SkippedSteps { get; init; }
    public int ConsecutiveSkippedSteps { get; init; }

    public required long TokensSeen { get; init; }
    public required double TrainSeconds { get; init; }
    public double? InitialValidationLoss { get; init; }
    public double? LastValidationLoss { get; init; }
    public double? LastTrainLoss { get; init; }

    /// <summary>The run's torch generator state (base64 of <c>Generator.get_state()</c>'s bytes).</summary>
    public required string TorchRngState { get; init; }

    /// <summary>The step that run itself resumed from, if it did (carried into the manifest).</summary>
    public int? ResumedFrom { get; init; }

    /// <summary>
    /// Where early stopping / <c>evaluation.keep: best</c> stands; null when neither is on (and in checkpoints written before
    /// they existed). The best weights are in state.safetensors under <see cref="BestWeights.Prefix"/>.
    /// </summary>
    public EarlyStoppingState? EarlyStopping { get; init; }

    /// <summary>metrics.jsonl so far, as events (see <see cref="MetricsJson"/>).</summary>
    public required JsonArray Metrics { get; init; }

    public DateTime CreatedUtc { get; init; } = DateTime.UtcNow;

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses state.json; a malformed or future-format file is a <see cref="CheckpointException"/>.</summary>
    public static CheckpointState Parse(string path, string text)
    {
        CheckpointState? state;
        try
        {
            state = JsonSerializer.Deserialize<CheckpointState>(text, Json);
        }
        catch (JsonException ex)
        {
            throw new CheckpointException($"{path}: not a readable checkpoint ({ex.Message})", ex);
        }
        if (state is null) throw new CheckpointException($"{path}: empty checkpoint");
        if (state.FormatVersion > CurrentFormatVersion)
            throw new CheckpointException($"{path}: checkpoint format {state.FormatVersion} was written by a newer LoraRecipes (this one reads up to {CurrentFormatVersion}).");
        return state;
    }
}

/// <summary>The early-stopping rule's state at a checkpoint (<see cref="Training.EarlyStopping"/>).</summary>
public sealed record EarlyStoppingState(double? BestValue, int? BestStep, int EvaluationsWithoutImprovement);

/// <summary>A checkpoint that cannot be read or does not fit the run.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);
