using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LoraRecipes.Cli.Tests.Packaging;

/// <summary>
/// Packs the tool (for this machine's RID only) and the templates into a temporary local feed, once per run.
/// Builds go to a separate --artifacts-path so the solution's own bin/obj are left alone.
/// </summary>
public sealed class PackagedFeed : IDisposable
{
    public PackagedFeed()
    {
        Root = Directory.CreateTempSubdirectory("lora-feed-").FullName;
        Feed = Path.Combine(Root, "feed");
        string artifacts = Path.Combine(Root, "artifacts");
        RepoRoot = FindRepoRoot();
        Rid = RuntimeInformation.RuntimeIdentifier.StartsWith("linux-musl", StringComparison.Ordinal) ? RuntimeInformation.RuntimeIdentifier : LoraRecipes.Native.NativeLocator.Rid;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Run("dotnet", ["pack", Path.Combine(RepoRoot, "src", "LoraRecipes.Cli"), "-o", Feed, "--artifacts-path", artifacts,
            $"-p:ToolPackageRuntimeIdentifiers={Rid}", "-nologo", "-v", "q", "-m:1"], RepoRoot, lowPriority: true).ThrowIfFailed("pack the tool");
        PackSeconds = clock.Elapsed.TotalSeconds;
        Run("dotnet", ["pack", Path.Combine(RepoRoot, "templates"), "-o", Feed, "--artifacts-path", artifacts, "-nologo", "-v", "q", "-m:1"], RepoRoot, lowPriority: true).ThrowIfFailed("pack the templates");
        // Only the local feed: nothing is looked up anywhere else.
        Hive = Path.Combine(Root, "hive");
        Run("dotnet", ["new", "install", Package("LoraRecipes.Templates"), "--debug:custom-hive", Hive], Root).ThrowIfFailed("install the templates");
        NuGetConfig = Path.Combine(Root, "nuget.config");
        File.WriteAllText(NuGetConfig, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><clear /><add key="local" value="{Feed}" /></packageSources>
            </configuration>
            """);
    }

    public string Root { get; }
    public string Feed { get; }
    public string RepoRoot { get; }
    public string Rid { get; }
    public string NuGetConfig { get; }
    /// <summary>A private template hive with LoraRecipes.Templates installed.</summary>
    public string Hive { get; }
    /// <summary>How long packing the tool took (reported by the size test).</summary>
    public double PackSeconds { get; }

    public string Package(string id) => Directory.GetFiles(Feed, id + ".0*.nupkg").Single();

    public void Dispose() => Directory.Delete(Root, recursive: true);

    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("LoraRecipes.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs a process to completion (10 minutes at most); stdout and stderr together.</summary>
    /// <remarks><paramref name="lowPriority"/> lowers the build's CPU priority (its MSBuild nodes inherit it), so timing
    /// tests of other assemblies running in parallel on a 2-core machine are not starved.</remarks>
    public static ProcessResult Run(string file, IEnumerable<string> args, string workingDirectory, IDictionary<string, string?>? environment = null, bool lowPriority = false)
    {
        var start = new ProcessStartInfo(file, args) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        // The test host's MSBuild variables would point a child build at the wrong SDK pieces.
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k == "VSTEST_HOST_DEBUG").ToList())
            start.Environment.Remove(key);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        if (lowPriority)
        {
            try { process.PriorityClass = ProcessPriorityClass.Idle; }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} ran past 10 minutes");
        }
        return new ProcessResult(process.ExitCode, stdout.Result + stderr.Result, $"{file} {string.Join(' ', args)}");
    }
}

public sealed record ProcessResult(int ExitCode, string Output, string CommandLine)
{
    public void ThrowIfFailed(string what)
    {
        if (ExitCode != 0) throw new InvalidOperationException($"could not {what} (exit {ExitCode}): {CommandLine}\n{Output}");
    }
}

[CollectionDefinition(Name)]
public sealed class PackagedFeedCollection : ICollectionFixture<PackagedFeed>
{
    public const string Name = "packaged feed";
}
