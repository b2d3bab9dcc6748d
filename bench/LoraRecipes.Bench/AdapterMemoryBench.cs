using System.Diagnostics;
using LoraRecipes.Models;
using LoraRecipes.Native;
using LoraRecipes.Recipes;
using LoraRecipes.Runtime;
using LoraRecipes.Training;

namespace LoraRecipes.Bench;

/// <summary>
/// <c>--adapters-memory</c>: resident memory of serving several adapters over one base (docs/multi-adapter.md). Trains
/// three one-step adapters of recipes/sentiment.yaml on builtin:minilm (LoRA, IA3, DoRA), then measures in a fresh
/// process each: the base + 1 adapter, the base + 3 adapters (one LoraModel), and 3 separate LoraModels — VmRSS after
/// loading and one classification through every adapter, with glibc's mmap threshold pinned so RSS is live memory.
/// </summary>
internal static class AdapterMemoryBench
{
    private static readonly (string Name, string[] Overrides)[] Adapters =
    [
        ("lora", []), ("ia3", ["method=ia3"]), ("dora", ["lora.use_dora=true"]),
    ];

    public static int Run(string[] args)
    {
        if (args[0] == "--adapters-memory-child") return Child(args[1], args[2..]);
        string recipe = Path.GetFullPath(args.Length > 1 ? args[1] : Path.Combine(FindRepo(), "recipes", "sentiment.yaml"));
        string root = Path.Combine(LibTorchLoader.CacheDirectory(), "bench", "adapters");
        var folders = new List<string>();
        foreach (var (name, overrides) in Adapters)
        {
            string output = Path.Combine(root, name);
            folders.Add(output);
            if (File.Exists(Path.Combine(output, "adapter_model.safetensors"))) continue;
            var plan = RecipeLoader.LoadPlan(recipe, [.. overrides, "training.max_steps=1", "training.batch_size=2", "evaluation.every=never", $"output.dir={output}"],
                new PlanOptions { BuiltinModelVersion = BuiltinModels.Version, ToolVersion = "bench" });
            if (!plan.Succeeded) { Console.Error.WriteLine(string.Join("\n", plan.Diagnostics)); return 2; }
            new LoraTrainer(plan.Plan!).Run();
        }
        Console.WriteLine($"adapters over builtin:minilm (22.7M parameters, fp32), recipe {Path.GetFileName(recipe)}, one training step each: {string.Join(", ", Adapters.Select(a => a.Name))}");
        Console.WriteLine("| configuration | VmRSS MiB | peak (VmHWM) MiB |");
        Console.WriteLine("|---|---|---|");
        foreach (string mode in new[] { "base+1", "base+3", "3-separate" })
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal)) psi.ArgumentList.Add(typeof(AdapterMemoryBench).Assembly.Location);
            foreach (string a in new[] { "--adapters-memory-child", mode }.Concat(folders)) psi.ArgumentList.Add(a);
            using var child = Process.Start(psi)!;
            string line = child.StandardOutput.ReadToEnd().Trim().Split('\n')[^1];
            child.WaitForExit();
            Console.WriteLine($"| {mode} | {line} |");
        }
        return 0;
    }

    private static int Child(string mode, string[] folders)
    {
        LibTorchLoader.EnsureInitialized();
        SystemProbe.PinMmapThreshold(128 * 1024);
        var models = mode switch
        {
            "base+1" => [LoraModel.Load(folders[0])],
            "base+3" => [LoraModel.LoadMany(folders)],
            _ => folders.Select(f => LoraModel.Load(f)).ToList(),
        };
        foreach (var model in models)
        foreach (string adapter in model.Adapters) model.Classify("a quiet, moving film", adapter);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Console.WriteLine($"{SystemProbe.Rss() / (1024.0 * 1024):F0} | {SystemProbe.PeakRss() / (1024.0 * 1024):F0}");
        foreach (var model in models) model.Dispose();
        return 0;
    }

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("run from inside the repository, or pass the recipe: --adapters-memory recipes/sentiment.yaml");
    }
}
