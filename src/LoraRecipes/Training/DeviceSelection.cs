using LoraRecipes.Events;
using LoraRecipes.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>Turns the recipe's <c>device</c>, <c>precision</c> and <c>threads</c> into what the run uses.</summary>
public static class DeviceSelection
{
    /// <summary>auto → cuda when a CUDA backend is loaded, else cpu; cuda:N as given.</summary>
    public static Device Resolve(string device)
    {
        if (device == "auto") return cuda.is_available() ? CUDA : CPU;
        if (device.StartsWith("cuda", StringComparison.Ordinal) && !cuda.is_available())
            throw new TrainingException($"training.device is '{device}' but no CUDA backend is loaded. " +
                "Reference a CUDA libtorch package (see the README, 'CUDA') or use device: cpu.", FailureKind.TrainingFailed);
        return new Device(device);
    }

    /// <summary>Below this hidden size a CPU's bf16 matmuls are too small to pay for the casts (bench/NOTES.md).</summary>
    public const int MinCpuBf16HiddenSize = 512;

    /// <summary>
    /// The dtype of the frozen base. auto → bf16 on CUDA, and on CPUs with native bf16 matmul (AVX512-BF16 or AMX)
    /// for models of hidden size ≥ <see cref="MinCpuBf16HiddenSize"/>; else fp32. fp16 only on CUDA (CPUs have no
    /// fast fp16 matmul: fp32 with a warning). LoRA weights, their optimizer state and the loss stay fp32 whatever
    /// this returns.
    /// </summary>
    public static (ScalarType DType, string? Warning) ResolvePrecision(Precision precision, Device device, int hiddenSize = int.MaxValue) => precision switch
    {
        Precision.Fp32 => (ScalarType.Float32, null),
        Precision.Bf16 => (ScalarType.BFloat16, device.type == DeviceType.CPU && !CpuHasBf16()
            ? "training.precision is bf16 but this CPU has no native bf16 matmul (AVX512-BF16/AMX); it will be slower than fp32." : null),
        Precision.Fp16 when device.type == DeviceType.CUDA => (ScalarType.Float16, null),
        Precision.Fp16 => (ScalarType.Float32, "training.precision fp16 needs CUDA; training in fp32 on the CPU (bf16 is the fast CPU choice where supported)."),
        _ => (device.type == DeviceType.CUDA || (CpuHasBf16() && hiddenSize >= MinCpuBf16HiddenSize) ? ScalarType.BFloat16 : ScalarType.Float32, null),
    };

    /// <summary>The recipe's name for a base dtype (manifest, events).</summary>
    public static string PrecisionName(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        _ => "fp32",
    };

    /// <summary>True when /proc/cpuinfo lists avx512_bf16 or amx_bf16 (oneDNN then runs bf16 matmuls natively).</summary>
    public static bool CpuHasBf16()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return false;
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (!line.StartsWith("flags", StringComparison.Ordinal)) continue;
                var flags = line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return flags.Contains("avx512_bf16") || flags.Contains("amx_bf16");
            }
        }
        catch (IOException)
        {
        }
        return false;
    }

    /// <summary>Physical cores (hyper-threads share a core's matmul units), from /proc/cpuinfo where it exists.</summary>
    public static int PhysicalCores()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var cores = new HashSet<string>();
                string physical = "0";
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("physical id", StringComparison.Ordinal)) physical = line[(line.IndexOf(':') + 1)..].Trim();
                    else if (line.StartsWith("core id", StringComparison.Ordinal)) cores.Add(physical + "/" + line[(line.IndexOf(':') + 1)..].Trim());
                }
                if (cores.Count > 0) return Math.Min(cores.Count, Environment.ProcessorCount);
            }
        }
        catch (IOException)
        {
        }
        return Environment.ProcessorCount;
    }
}
