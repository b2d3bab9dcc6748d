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
        var location = NativeLocator.Find();
        if (location is null)
        {
            return new NativeLoadReport(false, null, null,
                $"libtorch natives not found beside the application or in the NuGet cache ({NativeLocator.CachedLibTorchDirectory()}); run `dotnet lora setup --backend cpu`")
            { Missing = true };
        }

        bool needsPatch = OperatingSystem.IsLinux() && !LibStdCxxHas("GLIBCXX_3.4.32");
        if (location.AppLocal && !needsPatch)
            return new NativeLoadReport(false, location.LibTorchDirectory, null, OperatingSystem.IsLinux() ? "not needed: libstdc++ provides GLIBCXX_3.4.32" : "not needed on this OS")
            { TorchSharpLibrary = location.TorchSharpLibrary };

        // The glue library is loaded from a path of its own (a patched copy, or the NuGet cache apart from
        // libtorch): load libtorch from its folder first so the glue's DT_NEEDED entries resolve against
        // libraries already in the process rather than through $ORIGIN.
        foreach (string dep in DependencyNames())
        {
            string path = Path.Combine(location.LibTorchDirectory, dep);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }

        string glue = needsPatch ? PatchedCopy(location.TorchSharpLibrary) : location.TorchSharpLibrary;
        _patchedHandle = NativeLibrary.Load(glue);
        NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, Resolve);
        string where = location.AppLocal ? "" : $"; libtorch from the NuGet cache ({location.LibTorchDirectory})";
        return needsPatch
            ? new NativeLoadReport(true, location.LibTorchDirectory, glue, "applied: GLIBCXX_3.4.32 marked weak in a cached copy of libLibTorchSharp.so" + where) { TorchSharpLibrary = location.TorchSharpLibrary }
            : new NativeLoadReport(false, location.LibTorchDirectory, null, "not needed" + where) { TorchSharpLibrary = location.TorchSharpLibrary };
    }

    private static string[] DependencyNames() =>
        OperatingSystem.IsWindows() ? ["c10.dll", "torch_cpu.dll", "torch.dll"]
        : OperatingSystem.IsMacOS() ? ["libc10.dylib", "libtorch_cpu.dylib", "libtorch.dylib"]
        : ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name is TorchSharpLibrary or "libLibTorchSharp" or "libLibTorchSharp.so" or "LibTorchSharp.dll" or "libLibTorchSharp.dylib" ? _patchedHandle : IntPtr.Zero;

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
/// <param name="NativeDirectory">The folder the libtorch natives were found in (app folder, cpu/ fallback or NuGet cache).</param>
/// <param name="PatchedLibrary">The path of the patched copy, when one is used.</param>
/// <param name="Detail">A human sentence for <c>dotnet lora doctor</c>.</param>
public sealed record NativeLoadReport(bool CompatibilityFixApplied, string? NativeDirectory, string? PatchedLibrary, string Detail)
{
    /// <summary>The unpatched glue library (libLibTorchSharp) that was found.</summary>
    public string? TorchSharpLibrary { get; init; }

    /// <summary>True when no libtorch natives were found anywhere: <c>dotnet lora setup</c> is needed.</summary>
    public bool Missing { get; init; }
}
