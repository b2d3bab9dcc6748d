using LoraRecipes.Events;
using Microsoft.Build.Framework;

namespace LoraRecipes.Build;

/// <summary>What one line of trainer output becomes in the build log.</summary>
/// <param name="Kind">Error, warning or plain message.</param>
/// <param name="File">The file the event names, or null (the task then names the recipe).</param>
/// <param name="Line">1-based line, 0 when none.</param>
/// <param name="Column">1-based column, 0 when none.</param>
/// <param name="Code">The diagnostic code (<c>LORA012</c>, <c>LORA911</c>), or null.</param>
/// <param name="Text">The message, without location or severity.</param>
/// <param name="Importance">For a <see cref="TrainerLineKind.Message"/>: how loud it is under <c>LoraVerbosity</c>.</param>
internal sealed record TrainerLine(TrainerLineKind Kind, string? File, int Line, int Column, string? Code, string Text,
    MessageImportance Importance = MessageImportance.High);

internal enum TrainerLineKind { Message, Warning, Error }

/// <summary>
/// Maps the trainer's NDJSON event stream (<c>dotnet-lora run --log-format json</c>, docs/events.md) to build events through
/// one table on the event type (as Grpc.Tools' <c>ProtoCompile</c> maps protoc's lines): diagnostics and failures become
/// errors with their code and position, warnings become warnings, progress becomes messages whose importance depends on the
/// event and <c>LoraVerbosity</c>. The trainer's human text is never parsed. A line that is not an event is surfaced, never
/// dropped: plain text (a crash, a runtime message) as a visible message, a broken JSON line as warning LORA913.
/// </summary>
internal static class TrainerOutput
{
    /// <summary>The code of the warning for a line that looks like JSON but is not a valid event.</summary>
    public const string MalformedEventCode = "LORA913";

    /// <summary>The build lines for one output line of the trainer (none for a step between milestones).</summary>
    public static IReadOnlyList<TrainerLine> Map(string line, string verbosity)
    {
        if (string.IsNullOrWhiteSpace(line)) return [];
        var parsed = EventJson.Parse(line);
        if (parsed.Event is { } e) return FromEvent(e, verbosity);
        if (parsed.Type is { } type)
            return [new(TrainerLineKind.Message, null, 0, 0, null, $"(trainer event {type}, not known to this build task) {line}", Loud(verbosity, MessageImportance.Normal))];
        if (line.TrimStart().StartsWith('{'))
            return [new(TrainerLineKind.Warning, null, 0, 0, MalformedEventCode, $"the trainer wrote a line that is not a valid event ({parsed.Error}): {line}")];
        return [new(TrainerLineKind.Message, null, 0, 0, null, line, Loud(verbosity, MessageImportance.High))];
    }

    /// <summary>The table: one row per event type.</summary>
    public static IReadOnlyList<TrainerLine> FromEvent(TrainingEvent e, string verbosity) => e switch
    {
        DiagnosticReported d => [new(d.IsError() ? TrainerLineKind.Error : TrainerLineKind.Warning, d.File, d.Line, d.Column, d.Code, d.Text())],
        RunFailed f => [new(TrainerLineKind.Error, null, 0, 0, f.Code, f.Message)],
        RunWarning w => [new(TrainerLineKind.Warning, null, 0, 0, null, w.Message)],
        StepSkipped k => [new(TrainerLineKind.Warning, null, 0, 0, null, EventText.Line(k)!["warning: ".Length..])],
        RunCompleted c => EventText.Summary(c.Summary, c.OutputDirectory).Select(l => Message(l, Importance(e, verbosity))).ToList(),
        _ => EventText.Line(e) is { } text ? [Message(text, Importance(e, verbosity))] : [],
    };

    /// <summary>
    /// How loud a progress event is under <c>LoraVerbosity</c>: <c>quiet</c> keeps everything out of a normal build log;
    /// <c>minimal</c> (default) shows the run header, evaluations, checkpoints and summary, and leaves steps and samples to
    /// <c>-v:n</c>; <c>normal</c>/<c>detailed</c> show every line.
    /// </summary>
    public static MessageImportance Importance(TrainingEvent e, string verbosity) =>
        Loud(verbosity, e is StepCompleted or SampleGenerated ? MessageImportance.Normal : MessageImportance.High);

    private static MessageImportance Loud(string verbosity, MessageImportance atMinimal) => verbosity.ToLowerInvariant() switch
    {
        "quiet" or "q" => MessageImportance.Low,
        "normal" or "n" or "detailed" or "d" or "diagnostic" or "diag" => MessageImportance.High,
        _ => atMinimal,
    };

    private static TrainerLine Message(string text, MessageImportance importance) => new(TrainerLineKind.Message, null, 0, 0, null, "  " + text, importance);
}
