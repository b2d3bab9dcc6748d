using System.Text;
using LoraRecipes.Events;

namespace LoraRecipes.Cli.Rendering;

/// <summary>
/// Where <c>run</c>'s events go as NDJSON (<see cref="EventJson"/>): stdout under <c>--log-format json</c>, a file under
/// <c>--log-file</c>, both, or neither. Each line is flushed as it is written, so a reader sees progress live.
/// </summary>
internal sealed class EventLog : IDisposable
{
    private readonly TextWriter? _stdout;
    private readonly StreamWriter? _file;

    private EventLog(TextWriter? stdout, StreamWriter? file) => (_stdout, _file) = (stdout, file);

    /// <summary>True when stdout carries the events (and nothing else).</summary>
    public bool IsJson => _stdout is not null;

    /// <summary>
    /// Opens the targets: <paramref name="stdout"/> (null under <c>--log-format text</c>) and the file at
    /// <paramref name="file"/> (created or replaced; its folder is created).
    /// </summary>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public static EventLog Open(TextWriter? stdout, string? file)
    {
        StreamWriter? writer = null;
        if (file is not null)
        {
            string full = Path.GetFullPath(file);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            writer = new StreamWriter(full, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = true, NewLine = "\n" };
        }
        return new EventLog(stdout, writer);
    }

    public void Write(TrainingEvent e)
    {
        if (_stdout is null && _file is null) return;
        string line = EventJson.Serialize(e);
        if (_stdout is not null)
        {
            _stdout.Write(line + "\n");
            _stdout.Flush();
        }
        _file?.Write(line + "\n");
    }

    public void Dispose() => _file?.Dispose();
}
