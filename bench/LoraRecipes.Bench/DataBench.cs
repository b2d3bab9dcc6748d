using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using LoraRecipes.Data;
using LoraRecipes.Events;
using LoraRecipes.Models;
using LoraRecipes.Native;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;
using LoraRecipes.Training;

namespace LoraRecipes.Bench;

/// <summary>
/// <c>--data FILE</c>: what batching computes on a real alpaca file (default recipes/data/medical.json, repeated
/// <c>--repeat</c> times): padding with random, length-grouped and packed batches, and tokenizing vs reading the token cache.
/// <c>--data FILE --repeat N --train-steps S</c>: the real trainer on the 1× and the N× file, each run in a fresh
/// child process (so peak RSS is that run's): steady-state tokens/s and peak RSS from the memory-mapped token cache,
/// against the same run with the examples in memory (issue #7: a 100× file must not change either).
/// </summary>
internal static class DataBench
{
    /// <summary>Steps left out of the steady-state figure (first-touch allocations, JIT).</summary>
    private const int WarmupSteps = 5;

    /// <summary>Mapped runs per size, the sizes alternated, so the shared machine's drift shows and the best can be taken.</summary>
    private const int Rounds = 3;

    /// <summary>The <c>--data</c> and <c>--data-child</c> modes.</summary>
    public static int Dispatch(string[] args)
    {
        LibTorchLoader.EnsureInitialized();
        if (args[0] == "--data-child") return Child(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture), args[4]);
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        string file = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : Path.Combine("recipes", "data", "medical.json");
        string dataCache = Path.Combine(LibTorchLoader.CacheDirectory(), "bench");
        Directory.CreateDirectory(dataCache);
        if (Arg("--train-steps", 0) is int steps and > 0) return TrainAtScale(file, Arg("--repeat", 100), steps, dataCache);
        Run(file, Arg("--repeat", 1), Arg("--batch", 8), Arg("--max-length", 512), dataCache);
        return 0;
    }

    public static void Run(string file, int repeat, int batchSize, int maxLength, string cache)
    {
        string folder = BuiltinModels.Materialize("tiny-llama");
        var tokenizer = TextTokenizer.Load(folder);
        var encoder = new ExampleEncoder(tokenizer, PromptFormatter.For(PromptTemplate.Alpaca), maxLength, trainOnInputs: false);
        string data = file;
        if (repeat > 1)
        {
            var records = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!.AsArray();
            data = Path.Combine(cache, $"data-x{repeat}.jsonl");
            File.WriteAllLines(data, Enumerable.Range(0, repeat).SelectMany(_ => records.Select(r => r!.ToJsonString())));
        }
        var tokenCache = new TokenCache(Path.Combine(cache, "tokens-bench"));
        if (Directory.Exists(tokenCache.Directory)) Directory.Delete(tokenCache.Directory, recursive: true);
        string key = TokenCache.Key(data, folder, $"alpaca|{maxLength}");
        var sw = Stopwatch.StartNew();
        var examples = tokenCache.GetOrAdd(key, () => DataReader.Records(data, "alpaca").Select(encoder.Encode));
        double encodeSeconds = sw.Elapsed.TotalSeconds;
        (examples as IDisposable)?.Dispose();
        sw.Restart();
        examples = tokenCache.GetOrAdd(key, () => throw new InvalidOperationException("cache miss"));
        double cachedSeconds = sw.Elapsed.TotalSeconds;
        using var mapped = examples as IDisposable;
        long tokens = examples.Sum(e => (long)e.InputIds.Length);
        Console.WriteLine($"{data}: {examples.Count} examples, {tokens} tokens (mean {tokens / (double)examples.Count:F0}, max {examples.Max(e => e.InputIds.Length)})");
        Console.WriteLine($"  read+tokenize {encodeSeconds:F2} s · token cache open (mapped) {cachedSeconds:F3} s ({encodeSeconds / cachedSeconds:F0}× faster), {examples.Count} examples");

        long Computed(IEnumerable<IReadOnlyList<TokenizedExample>> batches) => batches.Sum(b => (long)b.Count * b.Max(e => e.InputIds.Length));
        var random = DatasetSplit.Permutation(examples.Count, 42).Chunk(batchSize).Select(ix => (IReadOnlyList<TokenizedExample>)ix.Select(i => examples[i]).ToList());
        var grouped = LengthGrouping.Batches(examples, batchSize, 42).Select(ix => (IReadOnlyList<TokenizedExample>)ix.Select(i => examples[i]).ToList());
        var packed = SequencePacker.Pack(examples, maxLength);
        var packedBatches = packed.Chunk(batchSize).Select(b => (IReadOnlyList<TokenizedExample>)b);
        foreach (var (name, batches) in new[] { ("random batches", random), ("length-grouped", grouped), ("packed", packedBatches) })
        {
            long computed = Computed(batches);
            Console.WriteLine($"  {name,-15} computes {computed} positions for {tokens} tokens: {100.0 * (computed - tokens) / computed:F1}% padding");
        }
        Console.WriteLine($"  packed rows: {packed.Count} of ≤ {maxLength} tokens ({examples.Count / (double)packed.Count:F1} samples per row)");
    }

    /// <summary>
    /// The trainer on the 1× and the <paramref name="repeat"/>× file (both JSONL), one child process per run: first a
    /// cold encode into an empty token cache, then training from the mapped cache (twice, the sizes alternated, so the
    /// machine's drift shows), once more with glibc's mmap threshold pinned (RSS is then live memory, not the allocator's
    /// settling), then training with the examples in memory (no cache), for the size of what is saved.
    /// </summary>
    private static int TrainAtScale(string file, int repeat, int steps, string cache)
    {
        string recipe = Path.GetFullPath(Path.Combine("recipes", "medical.yaml"));
        if (!File.Exists(recipe)) throw new FileNotFoundException("run from the repository root: recipes/medical.yaml is the recipe trained", recipe);
        var records = JsonNode.Parse(File.ReadAllText(file))!.AsArray().Select(r => r!.ToJsonString()).ToList();
        string work = Path.Combine(cache, $"scale-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            var sizes = new[] { 1, repeat }.Select(n =>
            {
                string data = Path.Combine(work, $"data-x{n}.jsonl");
                File.WriteAllLines(data, Enumerable.Range(0, n).SelectMany(_ => records));
                return (Factor: n, Data: data, Cache: Path.Combine(work, $"tokens-x{n}"));
            }).ToList();
            Console.WriteLine($"trainer on {recipe} (builtin:tiny-llama, batch 8, max_length 256, no validation), {steps} steps, steady state = steps {WarmupSteps + 1}..{steps}; " +
                $"{Environment.ProcessorCount} logical CPUs; each row a fresh process");
            var rows = new List<JsonNode>();
            JsonNode Child(string mode, (int Factor, string Data, string Cache) size)
            {
                var result = RunChild(mode, size.Data, steps, size.Cache);
                result["factor"] = size.Factor;
                rows.Add(result);
                Console.WriteLine(Describe(result));
                return result;
            }
            foreach (var size in sizes) Child("encode", size);
            for (int round = 0; round < Rounds; round++)
                foreach (var size in round % 2 == 0 ? sizes : Enumerable.Reverse(sizes))
                    Child("mapped", size);
            foreach (var size in sizes) Child("pinned", size);
            foreach (var size in sizes) Child("memory", size);

            // Best of the rounds: on a shared machine the other load only ever slows a run down.
            IEnumerable<JsonNode> Of(string mode, int factor) => rows.Where(r => (string)r["mode"]! == mode && (int)r["factor"]! == factor);
            double Tps(string mode, int factor) => Of(mode, factor).Max(r => (double)r["steady_tokens_per_s"]!);
            string Peaks(string mode, int factor) => string.Join("/", Of(mode, factor).Select(r => Mib((long)r["peak_rss_bytes"]!)));
            long Anon(string mode, int factor) => Of(mode, factor).Min(r => (long)r["peak_anon_bytes"]!);
            Console.WriteLine();
            Console.WriteLine($"mapped token cache, best of {Rounds}: {repeat}× data {Tps("mapped", repeat):F0} vs 1× {Tps("mapped", 1):F0} tok/s ({Tps("mapped", repeat) / Tps("mapped", 1) - 1:+0.0%;-0.0%}); " +
                $"peak RSS {Peaks("mapped", repeat)} vs {Peaks("mapped", 1)} MiB; heap (anonymous) at step ends {Mib(Anon("mapped", repeat))} vs {Mib(Anon("mapped", 1))} MiB");
            Console.WriteLine($"mapped, glibc's mmap threshold pinned (RSS = live memory): {repeat}× data peak RSS {Peaks("pinned", repeat)} vs 1× {Peaks("pinned", 1)} MiB");
            Console.WriteLine($"examples in memory: {repeat}× data peak RSS {Peaks("memory", repeat)} vs 1× {Peaks("memory", 1)} MiB; heap at step ends {Mib(Anon("memory", repeat))} vs {Mib(Anon("memory", 1))} MiB");
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string Describe(JsonNode r) => (string)r["mode"]! switch
    {
        "encode" => $"  {r["factor"],4}× encode: {r["examples"]} examples, {r["tokens"]} tokens, read+tokenize+write {(double)r["encode_s"]!:F2} s, " +
                    $"cache file {Mib((long)r["cache_bytes"]!)} MiB, peak RSS {Mib((long)r["peak_rss_bytes"]!)} MiB",
        string mode => $"  {r["factor"],4}× train ({mode,-6}): steady {(double)r["steady_tokens_per_s"]!:F0} tok/s (compute only {(double)r["trainer_tokens_per_s"]!:F0}), " +
                       $"median step {(double)r["median_step_ms"]!:F0} ms, setup (model + data) {(double)r["load_s"]!:F2} s, peak RSS {Mib((long)r["peak_rss_bytes"]!)} MiB " +
                       $"(heap {Mib((long)r["anon_at_start_bytes"]!)} MiB at the first step, ≤ {Mib((long)r["peak_anon_bytes"]!)} at step ends, .NET heap {Mib((long)r["managed_bytes"]!)}; " +
                       $"token cache resident {Mib((long)r["cache_resident_bytes"]!)} MiB)",
    };

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("F0", CultureInfo.InvariantCulture);

    /// <summary>Re-runs this executable as <c>--data-child</c> and reads back the one JSON line it prints last.</summary>
    private static JsonNode RunChild(string mode, string data, int steps, string tokenCache)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path to re-run");
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        // Under `dotnet LoraRecipes.Bench.dll` the process is the host: name the assembly again.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(DataBench).Assembly.Location);
        foreach (string a in new[] { "--data-child", mode, data, steps.ToString(CultureInfo.InvariantCulture), tokenCache }) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"child {mode} {data} failed (exit {process.ExitCode}):\n{output}");
        return JsonNode.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last())!;
    }

    /// <summary>
    /// One run in this (fresh) process. <c>encode</c>: the token cache filled from the data file, timed.
    /// <c>mapped</c>: the trainer from that cache; <c>pinned</c>: the same with glibc's mmap threshold pinned.
    /// <c>memory</c>: the trainer with the examples encoded into memory.
    /// Prints one JSON line.
    /// </summary>
    private static int Child(string mode, string data, int steps, string tokenCache)
    {
        string output = Path.Combine(Path.GetDirectoryName(tokenCache)!, $"out-{mode}-{Environment.ProcessId}");
        var result = RecipeLoader.LoadPlan(Path.GetFullPath(Path.Combine("recipes", "medical.yaml")),
            [$"data.train={data}", "data.validation_split=0", $"training.max_steps={steps}", "training.checkpoint_every=100000", "evaluation.every=never", "evaluation.samples=[]"],
            new PlanOptions { BuiltinModelVersion = BuiltinModels.Version, ToolVersion = "bench", OutputDirOverride = output });
        if (!result.Succeeded) throw new InvalidOperationException(string.Join("\n", result.Diagnostics));
        var plan = result.Plan!;
        var node = new JsonObject { ["mode"] = mode };
        var clock = Stopwatch.StartNew();
        if (mode == "encode")
        {
            string folder = ModelLoader.ResolveFolder(plan.BaseModel);
            using var loaded = TrainingData.Load(plan, TextTokenizer.Load(folder), new TokenCache(tokenCache), folder);
            node["encode_s"] = clock.Elapsed.TotalSeconds;
            node["examples"] = loaded.Train.Count;
            var sizes = ExampleLengths.Of(loaded.Train);
            node["tokens"] = Enumerable.Range(0, loaded.Train.Count).Sum(i => (long)sizes.LengthOf(i));
            node["cache_bytes"] = new DirectoryInfo(tokenCache).GetFiles("*.tokens").Sum(f => f.Length);
        }
        else
        {
            // Wall-clock per step, data included (the trainer's own tokens/s times only forward, backward and the update).
            var stamps = new List<(double Seconds, long Tokens)>();
            double loadSeconds = 0;
            long anon = 0, anonAtStart = 0, cacheResident = 0, managed = 0;
            // pinned: glibc's mmap threshold fixed, so freed tensors go back to the OS and RSS is live memory (bench/NOTES.md)
            if (mode == "pinned" && !SystemProbe.PinMmapThreshold(128 * 1024)) throw new InvalidOperationException("cannot pin glibc's mmap threshold here");
            var options = mode == "memory" ? new TrainerOptions { CacheTokens = false } : new TrainerOptions { TokenCacheDirectory = tokenCache };
            var summary = new LoraTrainer(plan, e =>
            {
                if (e is RunStarted)
                {
                    loadSeconds = clock.Elapsed.TotalSeconds;   // model loaded, data ready
                    anonAtStart = Status("RssAnon:");
                }
                if (e is not StepCompleted s) return;
                stamps.Add((clock.Elapsed.TotalSeconds, s.Tokens));
                anon = Math.Max(anon, Status("RssAnon:"));
                if (s.Step != s.TotalSteps) return;
                cacheResident = MappedResident(tokenCache);
                managed = GC.GetTotalMemory(forceFullCollection: false);
            }, options).Run();
            var steady = stamps.Skip(WarmupSteps - 1).ToList();
            var stepSeconds = steady.Zip(steady.Skip(1), (a, b) => b.Seconds - a.Seconds).Order().ToList();
            node["steady_tokens_per_s"] = (steady[^1].Tokens - steady[0].Tokens) / (steady[^1].Seconds - steady[0].Seconds);
            node["median_step_ms"] = 1000 * stepSeconds[stepSeconds.Count / 2];
            node["trainer_tokens_per_s"] = summary.TokensPerSecond;
            node["load_s"] = loadSeconds;
            node["peak_anon_bytes"] = anon;
            node["anon_at_start_bytes"] = anonAtStart;
            node["managed_bytes"] = managed;
            node["cache_resident_bytes"] = cacheResident;
            Directory.Delete(output, recursive: true);
        }
        node["peak_rss_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64;
        Console.WriteLine(node.ToJsonString());
        return 0;
    }

    /// <summary>A size from /proc/self/status in bytes (0 where there is none).</summary>
    private static long Status(string key) =>
        File.Exists("/proc/self/status") && File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal)) is { } line
            ? long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024 : 0;

    /// <summary>Resident bytes of this process's mappings of files under <paramref name="folder"/> (/proc/self/smaps).</summary>
    private static long MappedResident(string folder)
    {
        if (!File.Exists("/proc/self/smaps")) return 0;
        long total = 0;
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-')) inside = line.Contains(folder, StringComparison.Ordinal);
            else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal)) total += long.Parse(line[4..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        return total;
    }
}
