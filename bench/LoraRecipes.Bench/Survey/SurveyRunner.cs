using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Bench.Survey;

/// <summary>
/// <c>--survey</c>: trains every row of a survey file with the real CLI, one fresh process per row (so the time and peak
/// memory in the manifest are that row's alone), evaluates it on the survey's test file, and prints the table
/// (docs/method-survey.md). A row that fails is reported with its error; the others still run.
/// </summary>
internal static class SurveyRunner
{
    public static int Run(string[] args)
    {
        SurveyOptions options;
        SurveySpec spec;
        string cli;
        try
        {
            options = SurveyOptions.Parse(args);
            string root = RepositoryRoot();
            spec = SurveySpec.Load(options.SurveyFile(root)).Select(options.Rows);
            cli = options.Cli ?? DefaultCli(root);
            if (!File.Exists(cli)) throw new SurveyException($"{cli}: the CLI is not built; run `dotnet build src/LoraRecipes.Cli -c Release` (or pass --cli PATH).");
        }
        catch (SurveyException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }

        string work = options.Keep ?? Path.Combine(Path.GetTempPath(), $"lora-survey-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        string command = "dotnet run -c Release --project bench/LoraRecipes.Bench -- " + string.Join(' ', args.Select(Quote));
        Console.WriteLine($"method survey {spec.File}: {spec.Rows.Count} rows on {spec.Recipe}{(spec.Test is null ? "" : $", tested on {spec.Test}")}; " +
            $"{Environment.ProcessorCount} logical CPUs; each row a fresh `{Path.GetFileName(cli)} run` process");
        var started = DateTime.UtcNow;
        var results = new List<SurveyResult>();
        try
        {
            foreach (var row in spec.Rows)
            {
                var result = RunRow(spec, row, options.Overrides, cli, work);
                results.Add(result);
                Console.WriteLine(result.Succeeded
                    ? $"  {row.Name}: done in {result.ProcessSeconds:F0} s (training {result.TrainSeconds:F1} s)"
                    : $"  {row.Name}: FAILED: {result.Error}");
            }
        }
        finally
        {
            if (options.Keep is null) Directory.Delete(work, recursive: true);
        }
        string table = SurveyReport.Table(results);
        Console.WriteLine();
        Console.WriteLine(table);
        if (options.Markdown is { } md)
        {
            File.WriteAllText(md, table);
            Console.WriteLine($"wrote {md}");
        }
        if (options.Json is { } json)
        {
            File.WriteAllText(json, SurveyReport.Json(spec, results, options.Overrides, command, started, DateTime.UtcNow).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {json}");
        }
        return results.All(r => r.Succeeded) ? 0 : 1;
    }

    /// <summary>Trains (and tests) one row into <c>work/&lt;row&gt;</c>; never throws for a failed row.</summary>
    private static SurveyResult RunRow(SurveySpec spec, SurveyRowSpec row, IReadOnlyList<string> extra, string cli, string work)
    {
        var overrides = spec.Overrides.Concat(row.Overrides).Concat(extra).ToList();
        string folder = Path.Combine(work, FolderName(row.Name));
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        double? load = LoadAverage();
        var clock = Stopwatch.StartNew();
        try
        {
            var train = new List<string> { "run", spec.Recipe };
            foreach (string o in overrides) train.AddRange(["--set", o]);
            train.AddRange(["--output", folder, "--log-format", "json"]);
            var (code, stdout, stderr) = Exec(cli, train);
            if (code != 0) return SurveyResult.Failed(row.Name, overrides, $"training (exit {code}): {FailureMessage(stdout, stderr)}") with { LoadAverage = load };
            var result = SurveyResult.FromArtifact(row.Name, overrides, folder);
            if (spec.Test is { } test)
            {
                var (evalCode, evalOut, evalErr) = Exec(cli, ["eval", "--adapter", folder, "--data", test, "--json"]);
                result = evalCode == 0 ? result.WithEvaluation(evalOut) : result with { Error = $"evaluation (exit {evalCode}): {FailureMessage(evalOut, evalErr)}" };
            }
            return result with { ProcessSeconds = clock.Elapsed.TotalSeconds, LoadAverage = load };
        }
        catch (Exception ex) when (ex is SurveyException or ArtifactFormatException or IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return SurveyResult.Failed(row.Name, overrides, ex.Message) with { LoadAverage = load };
        }
    }

    /// <summary>
    /// Why a CLI process failed: the message of its <c>run_failed</c> event, else its error diagnostics (file:line:col
    /// code message), else the last line it printed to stderr, else to stdout.
    /// </summary>
    public static string FailureMessage(string stdout, string stderr)
    {
        var failed = new List<string>();
        var diagnostics = new List<string>();
        foreach (string line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.StartsWith('{')) continue;
            JsonObject? e;
            try
            {
                e = JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException)
            {
                continue;
            }
            string? type = (string?)e?["type"];
            if (type == "run_failed") failed.Add($"{e!["code"]}: {e["message"]}");
            else if (type == "diagnostic" && (string?)e!["severity"] == "error")
                diagnostics.Add($"{e["file"]}:{e["line"]}:{e["column"]}: {e["code"]}: {e["message"]}");
        }
        if (failed.Count > 0) return string.Join("; ", failed);
        if (diagnostics.Count > 0) return string.Join("; ", diagnostics);
        string Last(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        return Last(stderr) is { Length: > 0 } err ? err : Last(stdout) is { Length: > 0 } @out ? @out : "no output";
    }

    /// <summary>Runs <c>dotnet &lt;cli&gt; args…</c> to completion; echoes its evaluation events as they come.</summary>
    private static (int ExitCode, string Stdout, string Stderr) Exec(string cli, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(cli);
        foreach (string a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new SurveyException($"could not start {info.FileName} {cli}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = new StringBuilder();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            stdout.AppendLine(line);
            if (line.StartsWith("{\"type\":\"eval\"", StringComparison.Ordinal) && JsonNode.Parse(line) is JsonObject e)
                Console.WriteLine($"    eval at step {e["step"]}: loss {(double?)e["loss"]:F4}{(e["accuracy"] is { } a ? $", accuracy {(double)a:P1}" : "")}");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.ToString(), stderr.Result);
    }

    /// <summary>The dotnet host that launched this process (<c>dotnet run</c> sets DOTNET_HOST_PATH), else <c>dotnet</c> on PATH.</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";

    /// <summary>The repository holding this bench (the folder with LoraRecipes.sln above the binary), else the current folder.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }

    /// <summary>The CLI built in the bench's own configuration (the bench's project reference builds it first).</summary>
    private static string DefaultCli(string root)
    {
        string configuration = typeof(SurveyRunner).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "Configuration")?.Value ?? "Release";
        return Path.Combine(root, "src", "LoraRecipes.Cli", "bin", configuration, "net10.0", "dotnet-lora.dll");
    }

    /// <summary>A row name as a folder name: letters, digits, '.', '_' and '-' kept, anything else '-'.</summary>
    public static string FolderName(string row) =>
        new(row.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray());

    private static double? LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : null;
        }
        catch (Exception ex) when (ex is IOException or FormatException)
        {
            return null;
        }
    }

    private static string Quote(string arg) => arg.Any(c => char.IsWhiteSpace(c) || c is '[' or ']' or '"' or '\'' or '*') ? $"\"{arg}\"" : arg;
}
