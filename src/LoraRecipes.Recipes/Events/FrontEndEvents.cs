using LoraRecipes.Recipes;

namespace LoraRecipes.Events;

/// <summary>
/// A recipe diagnostic found before training (the plan checks of <c>dotnet lora run</c>), with the position and stable code of
/// <see cref="RecipeDiagnostic"/>: the MSBuild task turns it into a clickable error or warning.
/// </summary>
/// <param name="Severity"><c>error</c> or <c>warning</c>.</param>
/// <param name="Code">The stable code, <c>LORA001</c> and up (src/LoraRecipes.Recipes/ERROR-CODES.md).</param>
/// <param name="File">The recipe (or the <c>--set</c> override) the diagnostic is about.</param>
/// <param name="Line">1-based; 0 when the diagnostic concerns the whole file.</param>
/// <param name="Column">1-based; 0 when the diagnostic concerns the whole file.</param>
/// <param name="Message">What is wrong, without a final period.</param>
/// <param name="Hint">How to fix it, or null.</param>
public sealed record DiagnosticReported(string Severity, string Code, string File, int Line, int Column, string Message, string? Hint) : TrainingEvent
{
    public static DiagnosticReported From(RecipeDiagnostic d) =>
        new(d.IsError ? "error" : "warning", d.Code, d.File, d.Line, d.Column, d.Message, d.Hint);

    /// <summary>True for <c>error</c>.</summary>
    public bool IsError() => Severity == "error";

    /// <summary>The message and hint as one sentence pair, without the position (as <see cref="RecipeDiagnostic.ToString"/> ends).</summary>
    public string Text() => Hint is null ? $"{Message}." : $"{Message}. {Hint}";
}

/// <summary>
/// Another process holds the training lock of the output folder (docs/artifacts.md): this run waits for it. Holder fields
/// are null where the platform's lock cannot name the holder.
/// </summary>
/// <param name="Folder">The artifact folder both runs train into.</param>
/// <param name="HolderProcessId">The process training into it.</param>
/// <param name="HolderCommandLine">Its command line.</param>
/// <param name="HolderSinceUtc">When it took the lock (ISO 8601 UTC).</param>
public sealed record LockWaiting(string Folder, int? HolderProcessId, string? HolderCommandLine, string? HolderSinceUtc) : TrainingEvent;

/// <summary>
/// Nothing to train: the folder already holds this plan's adapter (same fingerprint), trained by the process this run waited
/// for (<see cref="TrainedByProcessId"/>) or already there (<c>--if-stale</c>, null). The run ends successfully after it.
/// </summary>
public sealed record AdapterReused(string Folder, string Fingerprint, int? TrainedByProcessId) : TrainingEvent;

/// <summary>
/// The run ended without an adapter: the last event of a failed <c>dotnet lora run</c>, written just before it exits with
/// <see cref="ExitCode"/>. <see cref="Code"/> is the stable build code of the <see cref="Kind"/> (<see cref="FailureCodes"/>).
/// </summary>
public sealed record RunFailed(FailureKind Kind, string Code, string Message, int ExitCode) : TrainingEvent;

/// <summary>Why a run failed, as the CLI maps it to an exit code and the build to an error code.</summary>
public enum FailureKind
{
    /// <summary>The recipe, its data or a checkpoint is unusable; nothing was trained (exit code 1).</summary>
    InvalidInput,

    /// <summary>Training started but failed: non-finite loss, out of memory, full disk, device error (exit code 3).</summary>
    TrainingFailed,

    /// <summary>Stopped by Ctrl+C or SIGTERM; a checkpoint may hold the state to resume from (exit code 130).</summary>
    Interrupted,
}

/// <summary>The build error code of each <see cref="FailureKind"/> (LORA9xx: raised by the build around the trainer).</summary>
public static class FailureCodes
{
    public const string InvalidInput = "LORA910";
    public const string TrainingFailed = "LORA911";
    public const string Interrupted = "LORA912";

    public static string For(FailureKind kind) => kind switch
    {
        FailureKind.InvalidInput => InvalidInput,
        FailureKind.TrainingFailed => TrainingFailed,
        FailureKind.Interrupted => Interrupted,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
