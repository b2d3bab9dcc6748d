using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace LoraRecipes.Build.Tests.Integration;

/// <summary>
/// Packs LoraRecipes.Build once per test run into a temporary local feed, under a unique prerelease version
/// so the machine's NuGet cache can never serve a stale copy (that version's cache folder is deleted at the
/// end; libtorch and everything else in the cache is reused, never downloaded again).
/// </summary>
public sealed class PackageFeed : IDisposable
{
    public PackageFeed()
    {
        RepoRoot = FindRepoRoot();
        Configuration = typeof(PackageFeed).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        Version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        Folder = Directory.CreateTempSubdirectory("lora-feed-").FullName;
        string project = Path.Combine(RepoRoot, "src", "LoraRecipes.Build", "LoraRecipes.Build.csproj");
        var pack = DotNet.Run(RepoRoot, "pack", project, "-c", Configuration, "--no-build", "-o", Folder, $"-p:PackageVersion={Version}");
        if (pack.ExitCode != 0) throw new InvalidOperationException("dotnet pack failed:\n" + pack.Output);
        Package = Path.Combine(Folder, $"LoraRecipes.Build.{Version}.nupkg");
    }

    public string RepoRoot { get; }
    public string Configuration { get; }
    public string Version { get; }
    public string Folder { get; }
    public string Package { get; }

    /// <summary>The NuGet cache the consumer restores into (the machine's, shared with every other build).</summary>
    public static string PackagesRoot =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } root
            ? root
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    public void Dispose()
    {
        TryDelete(Folder);
        TryDelete(Path.Combine(PackagesRoot, "lorarecipes.build", Version.ToLowerInvariant()));
    }

    internal static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("LoraRecipes.sln not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class PackageFeedCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "packed LoraRecipes.Build";
}

/// <summary>Runs the dotnet CLI as a user would, without the test host's MSBuild environment.</summary>
internal static class DotNet
{
    public static (int ExitCode, string Output) Run(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} ran past 5 minutes:\n{output}");
        }
        process.WaitForExit();
        return (process.ExitCode, output.ToString());
    }
}
