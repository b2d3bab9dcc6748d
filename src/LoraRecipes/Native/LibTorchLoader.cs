using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;

namespace LoraRecipes.Native;

/// <summary>
/// Makes TorchSharp's native library load on systems whose libstdc++ predates GCC 13.
/// </summary>
/// <remarks>
/// <c>libLibTorchSharp.so</c> 0.107 asks for <c>GLIBCXX_3.4.32</c> for a single symbol
/// (<c>std::ios_base_library_init()</c>) that it never relocates. Debian 12 and Ubuntu 22.04 ship
/// GCC 12's libstdc++, so the dynamic loader refuses the library. Marking that one version
/// requirement weak (<c>VER_FLG_WEAK</c> in <c>.gnu.version_r</c>) in a cached copy lets it load;
/// TorchSharp's imports are then bound to the copy through a DllImport resolver. Systems whose
/// libstdc++ is new enough load the original and nothing is patched.
/// </remarks>
public static class LibTorchLoader
{
    private const string TorchSharpLibrary = "LibTorchSharp";
    private static readonly object Gate = new();
    private static bool _initialized;
    private static IntPtr _patchedHandle;

    /// <summary>What happened when the native backend was prepared.</summary>
    public static NativeLoadReport Report { get; private set; } = new(false, null, null, "not initialized");

    /// <summary>Runs once per process, before the first TorchSharp call of this library.</summary>
#pragma warning disable CA2255 // a module initializer is the point: every entry into the library passes here first
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void InitializeModule() => EnsureInitialized();

    /// <summary>Prepares the native backend; safe to call many times and from many threads.</summary>
    public static void EnsureInitialized()
    {
        lock (Gate)
        {
            if (_initialized) return;
            _initialized = true;
            try
            {
                Report = Prepare();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or BadImageFormatException or DllNotFoundException)
            {
                Report = new NativeLoadReport(false, null, null, "compatibility fix failed: " + ex.Message);
            }
        }
    }

    private static NativeLoadReport Prepare()
    {
        if (!OperatingSystem.IsLinux()) return new NativeLoadReport(false, null, null, "not needed on this OS");
        string? nativeDir = FindNativeDirectory("libtorch_cpu.so");
        string? sharpDir = FindNativeDirectory("libLibTorchSharp.so");
        if (nativeDir is null || sharpDir is null) return new NativeLoadReport(false, null, null, "libtorch native folder not found beside the application; TorchSharp will search on its own");

        string original = Path.Combine(sharpDir, "libLibTorchSharp.so");
        if (LibStdCxxHas("GLIBCXX_3.4.32"))
            return new NativeLoadReport(false, nativeDir, null, "not needed: libstdc++ provides GLIBCXX_3.4.32");

        // The patched copy has no $ORIGIN siblings: load libtorch from the original folder first so
        // the copy's DT_NEEDED entries resolve against libraries already in the process.
        foreach (string dep in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            string path = Path.Combine(nativeDir, dep);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }

        string patched = PatchedCopy(original);
        _patchedHandle = NativeLibrary.Load(patched);
        NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, Resolve);
        return new NativeLoadReport(true, nativeDir, patched, "applied: GLIBCXX_3.4.32 marked weak in a cached copy of libLibTorchSharp.so");
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name is TorchSharpLibrary or "libLibTorchSharp" or "libLibTorchSharp.so" ? _patchedHandle : IntPtr.Zero;

    /// <summary>
    /// Finds the folder holding <paramref name="file"/>: the app folder, runtimes/&lt;rid&gt;/native, cpu/, or one of
    /// the host's native search folders. The last covers a framework-dependent trainer started with
    /// <c>dotnet exec --additionalprobingpath ~/.nuget/packages</c> (the LoraRecipes.Build package), where
    /// libtorch and libLibTorchSharp stay in their own package folders of the NuGet cache.
    /// </summary>
    private static string? FindNativeDirectory(string file)
    {
        string rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        string[] roots = { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? "" };
        var candidates = roots.Where(r => r.Length > 0)
            .SelectMany(root => new[] { root, Path.Combine(root, "runtimes", rid, "native"), Path.Combine(root, "cpu") })
            .Concat((AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "")
                .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return candidates.FirstOrDefault(dir => File.Exists(Path.Combine(dir, file)));
    }

    /// <summary>True when the process's libstdc++ exports the given symbol version.</summary>
    private static bool LibStdCxxHas(string version)
    {
        // dlvsym answers exactly the question the loader asks, without parsing ld.so.cache.
        if (!NativeLibrary.TryLoad("libstdc++.so.6", out IntPtr handle)) return false;
        return dlvsym(handle, "_ZSt21ios_base_library_initv", version) != IntPtr.Zero;
    }

    [DllImport("libc", EntryPoint = "dlvsym")]
    private static extern IntPtr dlvsym(IntPtr handle, [MarshalAs(UnmanagedType.LPStr)] string symbol, [MarshalAs(UnmanagedType.LPStr)] string version);

    /// <summary>Writes (once) and returns the path of the patched copy, keyed by the original's hash.</summary>
    private static string PatchedCopy(string original)
    {
        byte[] bytes = File.ReadAllBytes(original);
        string hash = Convert.ToHexString(SHA256.HashData(bytes))[..16].ToLowerInvariant();
        string dir = Path.Combine(CacheDirectory(), "native", hash);
        string target = Path.Combine(dir, "libLibTorchSharp.so");
        if (File.Exists(target)) return target;

        int patchedEntries = ElfVersionPatcher.MarkVersionWeak(bytes, "GLIBCXX_3.4.32");
        if (patchedEntries == 0) throw new BadImageFormatException($"{original} has no GLIBCXX_3.4.32 version requirement to relax.");
        Directory.CreateDirectory(dir);
        string temp = target + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, target, overwrite: true);
        return target;
    }

    /// <summary>The per-user cache folder: $LORA_CACHE, else $XDG_CACHE_HOME/lorarecipes, else ~/.cache/lorarecipes.</summary>
    public static string CacheDirectory()
    {
        string? explicitDir = Environment.GetEnvironmentVariable("LORA_CACHE");
        if (!string.IsNullOrEmpty(explicitDir)) return explicitDir;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string baseDir = !string.IsNullOrEmpty(xdg) ? xdg : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache") : Path.GetTempPath();
        return Path.Combine(baseDir, "lorarecipes");
    }
}

/// <summary>How the TorchSharp native library was loaded.</summary>
/// <param name="CompatibilityFixApplied">True when the GLIBCXX weak-version copy is in use.</param>
/// <param name="NativeDirectory">The folder the libtorch natives were found in.</param>
/// <param name="PatchedLibrary">The path of the patched copy, when one is used.</param>
/// <param name="Detail">A human sentence for <c>dotnet lora doctor</c>.</param>
public sealed record NativeLoadReport(bool CompatibilityFixApplied, string? NativeDirectory, string? PatchedLibrary, string Detail);
