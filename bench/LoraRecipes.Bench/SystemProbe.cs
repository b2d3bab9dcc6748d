using System.Diagnostics;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary>Resident memory from /proc/self/status, and the matmul peak of this process.</summary>
internal static partial class SystemProbe
{
    /// <summary>
    /// Pins glibc's mmap threshold (M_MMAP_THRESHOLD = −3): every tensor above it is mmapped and handed back on free,
    /// so resident memory equals live tensors. glibc otherwise raises the threshold as large blocks are freed and
    /// keeps freed pages in its heap arenas (fast, but RSS creeps up for ~100 steps): see bench/NOTES.md.
    /// </summary>
    public static bool PinMmapThreshold(int bytes)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(-3, bytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);

    /// <summary>Peak resident set (VmHWM) in bytes since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakRss() => Status("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>Current resident set (VmRSS) in bytes.</summary>
    public static long Rss() => Status("VmRSS:") ?? Environment.WorkingSet;

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int malloc_trim(nuint pad);

    /// <summary>
    /// Resets VmHWM to the current RSS (Linux: "5" into clear_refs), so each row reports its own peak. Before that, the
    /// previous rows' garbage is collected and glibc returns its free heap pages (<c>malloc_trim</c>): otherwise the
    /// reset starts from what earlier, larger rows left resident and a smaller row reads their peak, not its own.
    /// </summary>
    public static bool ResetPeak()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();   // TorchSharp tensors released by finalizers free their native memory here
        GC.Collect();
        if (OperatingSystem.IsLinux())
        {
            try { malloc_trim(0); }
            catch (EntryPointNotFoundException) { }   // not glibc (musl): the reset starts from the current RSS as before
            catch (DllNotFoundException) { }
        }
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long? Status(string key)
    {
        if (!File.Exists("/proc/self/status")) return null;
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
            var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(parts[0]) * 1024;
        }
        return null;
    }

    /// <summary>
    /// Best GFLOP/s of an n×n×n matmul in <paramref name="dtype"/> over a few repetitions: the ceiling MFU is
    /// measured against, taken in this process so that it sees the same threads, libtorch build and load.
    /// </summary>
    public static double MatmulPeak(ScalarType dtype, int n = 1536, int repetitions = 4)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n).to(dtype);
        var b = randn(n, n).to(dtype);
        using var guard = no_grad();
        a.matmul(b).Dispose();   // warm-up: oneDNN JIT, thread pool
        double best = double.MaxValue;
        for (int i = 0; i < repetitions; i++)
        {
            var sw = Stopwatch.StartNew();
            a.matmul(b).Dispose();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }
}
