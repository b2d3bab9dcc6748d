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
                "Reference a CUDA libtorch package (see the README, 'CUDA') or use device: cpu.", ExitCodes.TrainingFailed);
        return new Device(device);
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
