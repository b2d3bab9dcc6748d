using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoraRecipes.Recipes.Artifacts;

/// <summary>Who holds an artifact folder's training lock: what the lock file records, so a waiting process can name it.</summary>
/// <param name="ProcessId">The holder's process id.</param>
/// <param name="CommandLine">Its command line (<c>dotnet-lora run recipes/medical.yaml …</c>).</param>
/// <param name="StartedUtc">When it took the lock.</param>
public sealed record LockHolder(
    [property: JsonPropertyName("pid")] int ProcessId,
    [property: JsonPropertyName("command_line")] string CommandLine,
    [property: JsonPropertyName("started_utc")] DateTimeOffset StartedUtc)
{
    /// <summary>This process, now.</summary>
    public static LockHolder Current()
    {
        var args = Environment.GetCommandLineArgs();
        // `dotnet dotnet-lora.dll run …` reports the .dll as argument 0: show the tool's name instead of its path.
        string program = args.Length > 0 ? Path.GetFileNameWithoutExtension(args[0]) : "";
        string commandLine = string.Join(' ', args.Skip(1).Prepend(program).Select(Quote)).Trim();
        return new LockHolder(Environment.ProcessId, commandLine, DateTimeOffset.UtcNow);
    }

    /// <summary><c>process 1234 (dotnet-lora run a.yaml) since 12:01:02 UTC</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"process {ProcessId} ({CommandLine}) since {StartedUtc.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC");

    /// <summary>Whether the process is still alive (false when it is gone; a reused id reads as alive).</summary>
    public bool IsAlive()
    {
        try
        {
            using var process = Process.GetProcessById(ProcessId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    internal string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>The holder recorded in <paramref name="text"/>; null when empty or torn (the holder is still writing it).</summary>
    internal static LockHolder? Parse(string text)
    {
        try
        {
            return text.Length == 0 ? null : JsonSerializer.Deserialize<LockHolder>(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_./:=+,@".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";
}
