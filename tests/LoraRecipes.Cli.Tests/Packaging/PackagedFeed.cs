using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LoraRecipes.Cli.Tests.Packaging;

/// <summary>
/// Packs every package (LoraRecipes.Recipes, LoraRecipes, the tool for this machine's RID only, LoraRecipes.Build, the
/// templates) into a temporary local feed once per run, with the script a user runs from a clone
/// (<c>eng/pack-local.sh</c>), under a unique prerelease version so the machine's NuGet cache never serves a stale copy
/// (that version's cache folders are deleted at the end). Builds go to a separate --artifacts-path so the solution's
/// own bin/obj are left alone.
/// </summary>
public sealed class PackagedFeed : IDisposable
{
    /// <summary>The package ids the script packs (the cache folders to delete at the end).</summary>
    public static readonly string[] PackageIds = ["LoraRecipes.Recipes", "LoraRecipes", "LoraRecipes.Cli", "LoraRecipes.Build", "LoraRecipes.Templates"];

    public PackagedFeed()
    {
        Root = Directory.CreateTempSubdirectory("lora-feed-").FullName;
        Feed = Path.Combine(Root, "feed");
        string artifacts = Path.Combine(Root, "artifacts");
        RepoRoot = FindRepoRoot();
        Rid = RuntimeInformation.RuntimeIdentifier.StartsWith("linux-musl", StringComparison.Ordinal) ? RuntimeInformation.RuntimeIdentifier : LoraRecipes.Native.NativeLocator.Rid;
        Version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var pack = Run("bash", [Path.Combine(RepoRoot, "eng", "pack-local.sh"), "--output", Feed, "--version", Version, "--rid", Rid, "--artifacts-path", artifacts],
            RepoRoot, lowPriority: true);
        pack.ThrowIfFailed("pack the packages (eng/pack-local.sh)");
        PackSeconds = clock.Elapsed.TotalSeconds;
        PackOutput = pack.Output;
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
    /// <summary>The version every package was packed under (unique to this run).</summary>
    public string Version { get; }
    /// <summary>How long eng/pack-local.sh took to pack every package (reported by the size test).</summary>
    public double PackSeconds { get; }
    /// <summary>What eng/pack-local.sh printed (the commands that use the feed).</summary>
    public string PackOutput { get; }

    /// <summary>The NuGet cache consumers restore into (the machine's, shared with every other build).</summary>
    public static string PackagesRoot =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } root
            ? root
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    public string Package(string id) => Directory.GetFiles(Feed, id + ".0*.nupkg").Single();

    public void Dispose()
    {
        TryDelete(Root);
        foreach (string id in PackageIds.Append($"LoraRecipes.Cli.{Rid}"))
            TryDelete(Path.Combine(PackagesRoot, id.ToLowerInvariant(), Version.ToLowerInvariant()));
    }

    internal static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

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
