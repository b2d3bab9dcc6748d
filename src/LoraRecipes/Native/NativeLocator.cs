using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace LoraRecipes.Native;

/// <summary>Where the two halves of the native backend were found.</summary>
/// <param name="LibTorchDirectory">The folder holding libtorch (<c>libtorch_cpu.so</c>, <c>libc10.so</c>…).</param>
/// <param name="TorchSharpLibrary">The full path of TorchSharp's glue library (<c>libLibTorchSharp.so</c>).</param>
/// <param name="AppLocal">True when both sit together beside the application (a normal build output):
/// the default loader finds them and nothing needs resolving.</param>
public sealed record NativeLocation(string LibTorchDirectory, string TorchSharpLibrary, bool AppLocal);

/// <summary>
/// Finds the libtorch natives: beside the application (a build that referenced <c>libtorch-cpu-&lt;rid&gt;</c>),
/// in a <c>cpu/</c> folder beside TorchSharp.dll (where TorchSharp's own fallback consolidates them), or in
/// the NuGet package cache (where <c>dotnet lora setup</c> restores them for the tool, which ships without
/// them). TorchSharp's own cache fallback only fires when TorchSharp.dll itself was loaded from the
/// package cache, which is never the case for an installed tool, so the tool resolves them here.
/// </summary>
public static class NativeLocator
{
    /// <summary>The runtime identifier the native packages use for this process.</summary>
    public static string Rid
    {
        get
        {
            string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
            string arch = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "arm64" : "x64";
            return $"{os}-{arch}";
        }
    }

    /// <summary>TorchSharp's package version (e.g. 0.107.0).</summary>
    public static string TorchSharpVersion => typeof(torch).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>
    /// The libtorch package version this TorchSharp was built against (e.g. 2.10.0), read from its private
    /// constant by reflection: touching <c>torch.__version__</c> would run torch's static constructor, which
    /// needs the very natives being located.
    /// </summary>
    /// <remarks>The constant reads "2.10.0.0"; NuGet's folder and version are the normalised "2.10.0".</remarks>
    public static string LibTorchVersion => NormalizeVersion(
        typeof(torch).GetField("libtorchPackageVersion", BindingFlags.NonPublic | BindingFlags.Static)?.GetRawConstantValue() as string ?? "2.10.0");

    /// <summary>NuGet's normalisation: a fourth component of 0 is dropped (2.10.0.0 → 2.10.0).</summary>
    public static string NormalizeVersion(string version)
    {
        var parts = version.Split('.');
        return parts.Length == 4 && parts[3] == "0" ? string.Join('.', parts[..3]) : version;
    }

    /// <summary>The NuGet global packages folder: $NUGET_PACKAGES, else ~/.nuget/packages.</summary>
    public static string NuGetPackagesDirectory()
    {
        string? explicitDir = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (!string.IsNullOrEmpty(explicitDir)) return explicitDir;
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
    }

    /// <summary>The cache folder the libtorch backend package unpacks its natives to.</summary>
    public static string CachedLibTorchDirectory(string backend = "cpu") =>
        Path.Combine(NuGetPackagesDirectory(), BackendPackage(backend), LibTorchVersion, "runtimes", Rid, "native");

    /// <summary>The backend package id: <c>libtorch-cpu-&lt;rid&gt;</c> or <c>libtorch-cuda-12.8-&lt;rid&gt;</c>.</summary>
    public static string BackendPackage(string backend) => backend == "cuda" ? $"libtorch-cuda-12.8-{Rid}" : $"libtorch-cpu-{Rid}";

    /// <summary>File names of the glue library and of the one libtorch library that proves a folder holds libtorch.</summary>
    internal static (string Glue, string Marker) FileNames =>
        OperatingSystem.IsWindows() ? ("LibTorchSharp.dll", "torch_cpu.dll")
        : OperatingSystem.IsMacOS() ? ("libLibTorchSharp.dylib", "libtorch_cpu.dylib")
        : ("libLibTorchSharp.so", "libtorch_cpu.so");

    /// <summary>Finds the natives; null when neither the application nor the NuGet cache has them.</summary>
    /// <param name="roots">Application folders to search first (default: the app base and TorchSharp.dll's folder).</param>
    /// <param name="packagesDirectory">The NuGet cache (default: <see cref="NuGetPackagesDirectory"/>).</param>
    public static NativeLocation? Find(IEnumerable<string>? roots = null, string? packagesDirectory = null)
    {
        var (glue, marker) = FileNames;
        var local = LocalCandidates(roots).ToList();
        foreach (string candidate in local)
        {
            if (File.Exists(Path.Combine(candidate, glue)) && File.Exists(Path.Combine(candidate, marker)))
                return new NativeLocation(candidate, Path.Combine(candidate, glue), AppLocal: true);
        }

        // Split layouts: the host's native probing folders (`dotnet exec --additionalprobingpath`, as the
        // LoraRecipes.Build package starts the trainer), then the NuGet cache.
        var probe = roots is null ? local.Concat(HostSearchDirectories()).ToList() : local;
        string packages = packagesDirectory ?? NuGetPackagesDirectory();
        string? libtorch = probe.FirstOrDefault(d => File.Exists(Path.Combine(d, marker)))
            ?? new[] { Environment.GetEnvironmentVariable("LORA_BACKEND") == "cuda" ? "cuda" : null, "cpu" }
                .OfType<string>()
                .Select(b => Path.Combine(packages, BackendPackage(b), LibTorchVersion, "runtimes", Rid, "native"))
                .FirstOrDefault(d => File.Exists(Path.Combine(d, marker)));
        if (libtorch is null) return null;
        // The glue library: the app's own copy (it matches the managed TorchSharp.dll exactly), else the cached package's.
        string? glueFile = probe.Select(d => Path.Combine(d, glue))
            .Append(Path.Combine(packages, "torchsharp", TorchSharpVersion, "runtimes", Rid, "native", glue))
            .FirstOrDefault(File.Exists);
        return glueFile is null ? null : new NativeLocation(libtorch, glueFile, AppLocal: false);
    }

    private static IEnumerable<string> HostSearchDirectories() =>
        (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static IEnumerable<string> LocalCandidates(IEnumerable<string>? roots)
    {
        roots ??= [AppContext.BaseDirectory, Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? ""];
        foreach (string root in roots.Where(r => r.Length > 0).Distinct())
        {
            yield return root;
            yield return Path.Combine(root, "runtimes", Rid, "native");
            yield return Path.Combine(root, "cpu");   // TorchSharp's consolidated fallback folder
        }
    }
}
