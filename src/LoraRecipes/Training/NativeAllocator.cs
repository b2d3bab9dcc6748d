using System.Runtime.InteropServices;

namespace LoraRecipes.Training;

/// <summary>
/// glibc malloc tuning for libtorch's CPU tensors. By default glibc raises its mmap threshold each time a large
/// block is freed (up to 32 MiB), so after the first steps activations are carved from the heap arenas instead of
/// mmap, and the arenas fragment and keep their pages: resident memory climbed ~8 MiB per step for tens of steps
/// (bench/NOTES.md). Pinning the threshold at glibc's initial 128 KiB hands every large tensor back to the OS when
/// it is freed: resident memory is flat from the first step and about 4× lower on the builtin model.
/// </summary>
public static partial class NativeAllocator
{
    private const int MmapThreshold = -3;   // M_MMAP_THRESHOLD in <malloc.h>

    /// <summary>The threshold the trainer pins.</summary>
    public const int DefaultThreshold = 128 * 1024;

    /// <summary>Pins glibc's mmap threshold (once per process; later calls are harmless). False where not glibc.</summary>
    public static bool PinMmapThreshold(int bytes = DefaultThreshold)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(MmapThreshold, bytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
