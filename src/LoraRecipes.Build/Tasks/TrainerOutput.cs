using System.Text.RegularExpressions;
using Microsoft.Build.Framework;

namespace LoraRecipes.Build;

/// <summary>What one line of trainer output means to the build.</summary>
/// <param name="Kind">Error, warning or plain message.</param>
/// <param name="File">The file the line names, or null (the task then names the recipe).</param>
/// <param name="Line">1-based line, 0 when none.</param>
/// <param name="Column">1-based column, 0 when none.</param>
/// <param name="Code">The diagnostic code (<c>LORA012</c>), or null.</param>
/// <param name="Text">The message without its location and severity prefix.</param>
internal sealed record TrainerLine(TrainerLineKind Kind, string? File, int Line, int Column, string? Code, string Text);

internal enum TrainerLineKind { Message, Warning, Error }

/// <summary>
/// Maps the trainer's output lines to build events through a small table of patterns (as Grpc.Tools'
/// <c>ProtoCompile</c> does for protoc): canonical <c>file(line,col): error LORAnnn: msg</c>, the same
/// without a position, and the CLI's one-line <c>error: msg</c> failures; anything else is progress.
/// </summary>
internal static partial class TrainerOutput
{
    [GeneratedRegex(@"^(?<file>.+?)\((?<line>\d+),(?<col>\d+)\): (?<sev>error|warning) (?<code>[A-Za-z]+\d+): (?<msg>.*)$")]
    private static partial Regex Positioned();

    [GeneratedRegex(@"^(?<file>\S.*?): (?<sev>error|warning) (?<code>LORA\d+): (?<msg>.*)$")]
    private static partial Regex FileOnly();

    [GeneratedRegex(@"^(?<sev>error|warning): (?<msg>.*)$")]
    private static partial Regex Plain();

    public static TrainerLine Parse(string line)
    {
        if (Positioned().Match(line) is { Success: true } p)
            return new(Severity(p), p.Groups["file"].Value, int.Parse(p.Groups["line"].Value), int.Parse(p.Groups["col"].Value), p.Groups["code"].Value, p.Groups["msg"].Value);
        if (FileOnly().Match(line) is { Success: true } f)
            return new(Severity(f), f.Groups["file"].Value, 0, 0, f.Groups["code"].Value, f.Groups["msg"].Value);
        if (Plain().Match(line) is { Success: true } e)
            return new(Severity(e), null, 0, 0, null, e.Groups["msg"].Value);
        return new(TrainerLineKind.Message, null, 0, 0, null, line);
    }

    /// <summary>
    /// How loud a progress line is under <c>LoraVerbosity</c>: <c>quiet</c> keeps everything out of a normal
    /// build log; <c>minimal</c> (default) shows the run header, evaluations and summary, and leaves the
    /// per-step lines to <c>-v:n</c>; <c>normal</c>/<c>detailed</c> show every line.
    /// </summary>
    public static MessageImportance Importance(string line, string verbosity) => verbosity.ToLowerInvariant() switch
    {
        "quiet" or "q" => MessageImportance.Low,
        "normal" or "n" or "detailed" or "d" or "diagnostic" or "diag" => MessageImportance.High,
        _ => line.StartsWith("step ", StringComparison.Ordinal) || line.StartsWith("sample @", StringComparison.Ordinal) || line.Length == 0
            ? MessageImportance.Normal
            : MessageImportance.High,
    };

    private static TrainerLineKind Severity(Match m) => m.Groups["sev"].Value == "error" ? TrainerLineKind.Error : TrainerLineKind.Warning;
}
