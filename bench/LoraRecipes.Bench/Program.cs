using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraRecipes.Bench;
using LoraRecipes.Data;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Native;
using LoraRecipes.Training;
using static TorchSharp.torch;

// LoraRecipes training benchmark: see docs/readme/bench.md.
//   dotnet run -c Release --project bench/LoraRecipes.Bench -- [--sizes tiny,25m,110m,minilm] [--seq 128,256,512,1024]
//       [--batch 8] [--steps 12] [--precision fp32,bf16] [--peer-precision fp32[,bf16]] [--rank 8] [--targets q_proj,v_proj]
//       [--threads N] [--json FILE] [--no-peer] [--python PATH]
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Contains("--micro")) { LibTorchLoader.EnsureInitialized(); set_num_threads(DeviceSelection.PhysicalCores()); if (args.Contains("tiny")) Micro.Run(hidden: 256, inter: 688, vocab: 2048, heads: 16); else Micro.Run(); return 0; }
if (args.Contains("--micro-attention")) { LibTorchLoader.EnsureInitialized(); set_num_threads(DeviceSelection.PhysicalCores()); Micro.Attention(); return 0; }
if (args.Contains("--micro-head-chunk")) { LibTorchLoader.EnsureInitialized(); set_num_threads(DeviceSelection.PhysicalCores()); Micro.HeadChunks(); return 0; }
if (args.Contains("--micro-head"))
{
    LibTorchLoader.EnsureInitialized();
    set_num_threads(DeviceSelection.PhysicalCores());
    string size = args.SkipWhile(a => a != "--micro-head").Skip(1).FirstOrDefault() ?? "25m";
    string folder = BenchModels.Materialize(size, Path.Combine(LibTorchLoader.CacheDirectory(), "bench"));
    foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 }) Micro.HeadPaths(folder, dtype);
    return 0;
}
if (args.Contains("--profile-step"))
{
    LibTorchLoader.EnsureInitialized();
    set_num_threads(DeviceSelection.PhysicalCores());
    string size = args.SkipWhile(a => a != "--profile-step").Skip(1).FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "44m";
    int rounds = Array.IndexOf(args, "--rounds") is int ri and >= 0 ? int.Parse(args[ri + 1], CultureInfo.InvariantCulture) : 5;
    string? only = Array.IndexOf(args, "--only") is int oi and >= 0 ? args[oi + 1] : null;
    // --threads 1: one thread's CPU time is its work, whatever the other processes do (no barrier spinning or waits).
    if (Array.IndexOf(args, "--threads") is int ti and >= 0) set_num_threads(int.Parse(args[ti + 1], CultureInfo.InvariantCulture));
    StepProfile.Run(BenchModels.Materialize(size, Path.Combine(LibTorchLoader.CacheDirectory(), "bench")), rounds, only);
    return 0;
}
if (args.Contains("--leak-probe")) { LibTorchLoader.EnsureInitialized(); if (Array.IndexOf(args, "--mmap-threshold") is int mi and >= 0) SystemProbe.PinMmapThreshold(int.Parse(args[mi + 1])); set_num_threads(DeviceSelection.PhysicalCores()); LeakProbe.Run(); return 0; }
if (args.Length >= 1 && args[0] is "--data" or "--data-child") return DataBench.Dispatch(args);
if (args.Length >= 1 && args[0] is "--survey") return LoraRecipes.Bench.Survey.SurveyRunner.Run(args);
if (args.Length >= 1 && args[0] is "--adapters-memory" or "--adapters-memory-child") return AdapterMemoryBench.Run(args);
var parsed = BenchOptions.Parse(args);
if (parsed is null) return 2;
var (options, skippedPrecisions) = parsed.ForCpu(DeviceSelection.CpuHasBf16());

LibTorchLoader.EnsureInitialized();
bool pinned = options.MmapThreshold > 0 && SystemProbe.PinMmapThreshold(options.MmapThreshold);
int threads = options.Threads ?? DeviceSelection.PhysicalCores();
set_num_threads(threads);
string cache = Path.Combine(LibTorchLoader.CacheDirectory(), "bench");
Directory.CreateDirectory(cache);

Console.WriteLine($"LoraRecipes bench · {Environment.ProcessorCount} logical CPUs{(options.PromptFraction > 0 ? $" · first {options.PromptFraction:P0} of each row unscored prompt" : "")}, {threads} threads, bf16 matmul {(DeviceSelection.CpuHasBf16() ? "native" : "emulated")} · {(options.TokensPerStep is { } tps ? $"{tps} tokens per step" : $"batch {options.Batch}")} · {options.Steps} steps{(options.StepsGiven ? "" : $" ({BenchOptions.LargeSteps} for 44m/152k/110m)")} ({TrainingBench.WarmupSteps} warm-up) · LoRA r={options.Rank} on {string.Join(",", options.Targets)}{(options.Sizes.Any(BenchModels.IsEncoder) ? $" (encoders: {string.Join(",", ClassificationBench.Targets(options.Targets))} + the head)" : "")} · malloc mmap threshold {(pinned ? $"pinned at {options.MmapThreshold >> 10} KiB" : "glibc default")}");
if (skippedPrecisions is not null) Console.WriteLine(skippedPrecisions);
// An emulated bf16 matmul of 1536³ takes seconds: measured only when a bf16 row runs.
bool bf16Rows = options.Precisions.Contains("bf16");
double Bf16Peak() => bf16Rows ? SystemProbe.MatmulPeak(ScalarType.BFloat16) : double.NaN;
var peaks = new Dictionary<string, double> { ["fp32"] = SystemProbe.MatmulPeak(ScalarType.Float32), ["bf16"] = Bf16Peak() };
Console.WriteLine($"matmul peak (1536³, this process, at start): fp32 {peaks["fp32"]:F0} GFLOP/s, bf16 {(bf16Rows ? $"{peaks["bf16"]:F0} GFLOP/s" : "not measured (no bf16 row)")}");

var (peer, skip) = options.NoPeer ? (null, "peer skipped (--no-peer)") : PeerRunner.Find(options.Python);
if (skip is not null) Console.WriteLine(skip);

var rows = new List<(RowResult Ours, PeerResult? Peer, PeerResult? PeerFp32)>();
bool ok = true;
foreach (string size in options.Sizes)
{
    string folder = BenchModels.Materialize(size, cache);
    var config = ModelConfig.Load(Path.Combine(folder, "config.json"));
    // Encoders run as 2-class sequence classifiers (ClassificationBench): one loss path, BERT's target names.
    bool encoder = BenchModels.IsEncoder(size);
    IReadOnlyList<string> heads = encoder ? ["classify"] : options.Heads;
    var targets = encoder ? ClassificationBench.Targets(options.Targets) : options.Targets;
    foreach (int seq in options.Seqs)
    {
        int batchSize = options.BatchFor(seq);
        var (examples, batchFile) = encoder ? (Array.Empty<TokenizedExample>(), null) : RandomBatch(config, batchSize, seq, options.PromptFraction, cache);
        var peerResults = new Dictionary<string, PeerResult>();
        foreach (string precision in options.PrecisionsFor(size))
        foreach (string head in heads)
        {
            var spec = new RowSpec(size, folder, precision, batchSize, seq, options.StepsFor(size), options.Rank, options.Alpha, targets, Packed: false, head);
            // The peer runs once per (size, seq, precision): beside the first head path.
            bool withPeer = peer is not null && options.PeerPrecisions.Contains(precision) && head == heads[0];
            RowResult ours;
            PeerResult? samePeer;
            if (encoder)
                (ours, samePeer) = ClassificationBench.Run(spec, cache, withPeer ? peer : null, threads);
            else
            {
                using var session = withPeer ? peer!.Start(spec, batchFile!, threads) : null;
                (ours, samePeer) = TrainingBench.Run(spec, examples, session);
            }
            GC.Collect();
            if (samePeer is not null) peerResults[precision] = samePeer;
            rows.Add((ours, samePeer, null));
            Console.WriteLine(Report.Line(ours, samePeer, peaks));
            // The memory check: no tensor outlives its step (a row of more than 10 steps counts them after step 10 and at the end).
            ok &= ours.MemoryFlat;
            if (ours.Spec.Steps > TrainingBench.MemoryCheckStep)
                Console.WriteLine($"  memory check: live tensors {ours.LiveTensorsAtStep10} after step {TrainingBench.MemoryCheckStep}, {ours.LiveTensorsAtEnd} after step {ours.Spec.Steps}: " +
                    $"{(ours.MemoryFlat ? "flat" : "FAIL: tensors outlive their step")} (RSS between steps {Report.Mb(ours.RssAtStep10)} → {Report.Mb(ours.RssAtEnd)} MiB)");
        }
        // Attach the fp32 peer to every row of this (size, seq); check fp32 first-step losses to 1e-4 relative.
        peerResults.TryGetValue("fp32", out var fp32Peer);
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i].Ours.Spec.Size != size || rows[i].Ours.Spec.Seq != seq) continue;
            rows[i] = rows[i] with { Peer = rows[i].Peer ?? peerResults.GetValueOrDefault(rows[i].Ours.Spec.Precision), PeerFp32 = fp32Peer };
            if (fp32Peer is null || rows[i].Ours.Spec.Precision != "fp32") continue;
            double rel = Math.Abs(rows[i].Ours.FirstLoss - fp32Peer.FirstLoss) / Math.Abs(fp32Peer.FirstLoss);
            bool agree = rel <= 1e-4;
            ok &= agree;
            Console.WriteLine($"  first-step loss {size}/seq {seq} fp32: ours {rows[i].Ours.FirstLoss:F6}, peer {fp32Peer.FirstLoss:F6}, relative difference {rel:E1} {(agree ? "(agree to 1e-4)" : "FAIL: differ by more than 1e-4")}");
        }
        if (batchFile is not null) File.Delete(batchFile);
    }
}

// End to end: `dotnet-lora run` itself against a plain PyTorch script doing the same work, each a fresh process.
(EndToEndSide Ours, EndToEndSide? Peer)? endToEnd = null;
if (options.EndToEnd is { } e2eSize)
{
    Console.WriteLine($"end-to-end {e2eSize}: dotnet-lora run vs bench/peer/e2e_peer.py, {options.EndToEndSteps} steps of {EndToEndBench.Batch} packed rows × ≤ {EndToEndBench.MaxLength}, fresh processes …");
    endToEnd = EndToEndBench.Run(e2eSize, options.EndToEndSteps, threads, cache, peer?.Python, options.EndToEndRounds);
    Console.WriteLine(Report.EndToEndLine(e2eSize, endToEnd.Value.Ours, endToEnd.Value.Peer));
}

double peakFp32End = SystemProbe.MatmulPeak(ScalarType.Float32), peakBf16End = Bf16Peak();
Console.WriteLine();
Console.WriteLine(Report.Table(rows, peaks));
Console.WriteLine($"matmul peak re-measured at the end: fp32 {peakFp32End:F0}{(bf16Rows ? $", bf16 {peakBf16End:F0}" : "")} GFLOP/s (MFU uses the start figures; the spread is the machine's noise)");
if (endToEnd is { } e2e) Console.WriteLine(Report.EndToEndTable(options.EndToEnd!, e2e.Ours, e2e.Peer));
if (skippedPrecisions is not null) Console.WriteLine(skippedPrecisions);
if (options.Json is { } jsonPath)
{
    var json = Report.Json(rows, peaks, threads, peakFp32End, peakBf16End);
    if (endToEnd is { } e) json["end_to_end"] = Report.EndToEndJson(options.EndToEnd!, options.EndToEndSteps, e.Ours, e.Peer);
    File.WriteAllText(jsonPath, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {jsonPath}");
}
return ok ? 0 : 1;

// A fixed random batch (B, T) over the whole vocabulary; the leading promptFraction of each row is an unscored prompt
// (label -100), the rest trained. Written (ids and labels) for the peer too.
static (IReadOnlyList<TokenizedExample> Examples, string File) RandomBatch(ModelConfig config, int batch, int seq, double promptFraction, string cache)
{
    var ids = randint(0, config.VocabSize, new long[] { batch, seq }, generator: new Generator(1234), dtype: ScalarType.Int64);
    int prompt = (int)(promptFraction * seq);
    var data = ids.data<long>().ToArray();
    var examples = Enumerable.Range(0, batch).Select(b =>
    {
        var row = data.Skip(b * seq).Take(seq).Select(v => (int)v).ToArray();
        return new TokenizedExample(row, row.Select((v, j) => j < prompt ? ExampleEncoder.IgnoreIndex : v).ToArray(), b);
    }).ToList();
    using var labels = tensor(examples.SelectMany(e => e.Labels.Select(l => (long)l)).ToArray(), new long[] { batch, seq });
    string file = Path.Combine(cache, $"batch-{Environment.ProcessId}-{config.HiddenSize}-{seq}.safetensors");
    SafetensorsWriter.Write(file, new Dictionary<string, Tensor> { ["input_ids"] = ids, ["labels"] = labels });
    ids.Dispose();
    return (examples, file);
}
