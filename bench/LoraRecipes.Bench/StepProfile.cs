using System.Diagnostics;
using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Training;
using LoraRecipes.Training.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary>
/// <c>--profile-step [SIZE]</c>: where one fp32 training step of a real model spends its time (default 44m, batch 8 × 256,
/// LoRA r 8 on q,v, every position scored). Each part is timed on its own — the trainer's whole step with its phase split,
/// the decoder's forward and backward without the head, the head + cross-entropy at several chunk sizes (the trainer's
/// path, <see cref="CausalLoss.FromHidden"/>), the head's two matmuls alone, the cross-entropy alone on ready logits,
/// clip + AdamW — and all parts are interleaved round by round, so load from other processes falls on all of them alike;
/// medians (and the min–max spread) of the rounds are printed. For profiling only: the figures are not a bench row.
/// </summary>
internal static class StepProfile
{
    public static void Run(string folder, int rounds, string? only = null, int batch = 8, int seq = 256)
    {
        using var loaded = ModelLoader.Load(folder, CPU, ScalarType.Float32);
        var model = loaded.Module;
        var lm = (ICausalLM)model;
        manual_seed(0);
        LoraInjector.Inject(model, new LoraSettings(8, 16, 0.0, ["q_proj", "v_proj"]));
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        using var optimizer = new AdamW(trainable.Select(p => (p.name, p.parameter)), weightDecay: 0.01);
        model.train();
        var config = loaded.Config;
        long v = config.VocabSize, h = config.HiddenSize;
        var ids = randint(0, v, new long[] { batch, seq }, generator: new Generator(1234)).DetachFromDisposeScope();
        var data = ids.data<long>().ToArray();
        var examples = Enumerable.Range(0, batch).Select(b =>
        {
            var row = data.Skip(b * seq).Take(seq).Select(x => (int)x).ToArray();
            return new TokenizedExample(row, row, b);
        }).ToList();
        var step = new TrainingStep(CausalLmLoss.Instance, model, optimizer, padId: 0, CPU, maxGradNorm: 1.0);
        var chunk25 = new TrainingStep(new ChunkedHeadLoss((1L << 25) / v), model, optimizer, padId: 0, CPU, maxGradNorm: 1.0);
        var previous = new TrainingStep(PreviousHeadLoss.Instance, model, optimizer, padId: 0, CPU, maxGradNorm: 1.0);
        long n = batch * (seq - 1);
        var hiddenLeaf = (randn(batch, seq, h) * 0.5).requires_grad_(true).DetachFromDisposeScope();
        var rows = (randn(n, h) * 0.5).DetachFromDisposeScope();
        var targets = randint(0, v, new long[] { n }, generator: new Generator(7)).DetachFromDisposeScope();
        var hiddenGrad = (randn(batch, seq, h) * 1e-3).DetachFromDisposeScope();
        var phases = new double[4];

        var parts = new List<(string Name, Func<double> Run)>
        {
            ("trainer step (TrainingStep.Run)", () =>
            {
                var t = new StepTimings();
                var sw = Stopwatch.StartNew();
                step.Run([examples], 1e-4, 1, t);
                double total = sw.Elapsed.TotalSeconds;
                phases = [t.Data, t.Forward, t.Backward, t.Optimizer];
                return total;
            }),
            ("trainer step, head as before §14 (autograd CE, chunk 2^25)", () =>
            {
                var sw = Stopwatch.StartNew();
                previous.Run([examples], 1e-4, 1);
                return sw.Elapsed.TotalSeconds;
            }),
            ("trainer step, head chunk 2^25 (in-place CE)", () =>
            {
                var sw = Stopwatch.StartNew();
                chunk25.Run([examples], 1e-4, 1);
                return sw.Elapsed.TotalSeconds;
            }),
            ("  data: collate", () => Time(() => { using var b = Batch.Collate(examples, 0); })),
            ("  decoder forward (no head)", () =>
            {
                using var s = NewDisposeScope();
                var sw = Stopwatch.StartNew();
                var hid = lm.Hidden(ids);
                double fwd = sw.Elapsed.TotalSeconds;
                hid.backward(new[] { hiddenGrad });
                foreach (var p in model.parameters()) p.grad = null;
                return fwd;
            }),
            ("  decoder forward + backward (no head)", () => Time(() =>
            {
                using var s = NewDisposeScope();
                lm.Hidden(ids).backward(new[] { hiddenGrad });
                foreach (var p in model.parameters()) p.grad = null;
            })),
        };
        foreach (long chunk in new[] { 1L << 25, 1L << 23, (1L << 23) - (1L << 20), 1L << 22, 1L << 21 })
            parts.Add(($"  head + CE, trainer path, chunk {chunk >> 20} Mi logits ({Math.Max(1, chunk / v)} rows, {Math.Max(1, chunk / v) * v * 4 / (1 << 20):F0} MiB)", () => Time(() =>
            {
                using var s = NewDisposeScope();
                using var loss = CausalLoss.FromHidden(lm, hiddenLeaf, ids, 1.0 / n, Math.Max(1, chunk / v));
                loss.Backward();
                hiddenLeaf.grad = null;
            })));
        // The head's pieces over all N rows, in the trainer's chunks (CausalLoss.ChunkElements logits each).
        long rowsPerChunk = Math.Max(1, CausalLoss.ChunkElements / v);
        double Chunked(Action<long, long> body) => Time(() =>
        {
            for (long s = 0; s < n; s += rowsPerChunk)
            {
                using var scope = NewDisposeScope();
                body(s, Math.Min(rowsPerChunk, n - s));
            }
        });
        var weight = model.named_parameters().First(p => p.name.EndsWith("lm_head.weight", StringComparison.Ordinal) || p.name.EndsWith("embed_tokens.weight", StringComparison.Ordinal)).parameter;
        var gradLogits = (randn(n, v) * 1e-6).DetachFromDisposeScope();
        var logits = (randn(n, v) * 2).DetachFromDisposeScope();
        parts.Add(($"    head matmul forward (N, H)·Wᵀ → (N, V), {rowsPerChunk}-row chunks", () => Chunked((s, len) =>
        {
            using var g = no_grad();
            lm.Head(rows.narrow(0, s, len));
        })));
        parts.Add(($"    head matmul backward (N, V)·W → (N, H), {rowsPerChunk}-row chunks", () => Chunked((s, len) =>
        {
            using var g = no_grad();
            gradLogits.narrow(0, s, len).mm(weight);
        })));
        parts.Add(($"    cross-entropy fwd + bwd, autograd, {rowsPerChunk}-row chunks", () => Chunked((s, len) =>
        {
            var leaf = logits.narrow(0, s, len).detach().requires_grad_(true);
            nn.functional.cross_entropy(leaf, targets.narrow(0, s, len), reduction: nn.Reduction.Sum).backward();
        })));
        parts.Add(("  clip + AdamW + zero (LoRA parameters)", () =>
        {
            foreach (var (_, p) in trainable) p.grad = randn_like(p).DetachFromDisposeScope();
            return Time(() =>
            {
                using var s = NewDisposeScope();
                nn.utils.clip_grad_norm_(optimizer.Parameters, 1.0);
                optimizer.Step(1e-4);
                optimizer.ZeroGrad();
            });
        }));

        // --only TEXT: the parts whose name contains TEXT (the first part, the whole step, stays as the reference).
        if (only is not null) parts = parts.Where((p, i) => i == 0 || p.Name.Contains(only, StringComparison.Ordinal)).ToList();
        foreach (var p in parts) p.Run();   // warm-up
        var times = parts.Select(_ => new List<double>()).ToArray();
        var cpu = parts.Select(_ => new List<double>()).ToArray();     // process CPU seconds (user + sys): less load-sensitive than wall
        var faults = parts.Select(_ => new List<double>()).ToArray();  // minor page faults: fresh pages the part touched
        var phaseRuns = new List<double[]>();
        using var self = Process.GetCurrentProcess();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < parts.Count; i++)
            {
                self.Refresh();
                var cpu0 = self.TotalProcessorTime;
                long f0 = MinorFaults();
                times[i].Add(parts[i].Run());
                self.Refresh();
                cpu[i].Add((self.TotalProcessorTime - cpu0).TotalSeconds);
                faults[i].Add(MinorFaults() - f0);
                if (i == 0) phaseRuns.Add(phases);
            }
        double stepMedian = Median(times[0]);
        Console.WriteLine($"step profile {Path.GetFileName(folder)} fp32, batch {batch} × {seq}, {get_num_threads()} threads, {rounds} interleaved rounds (median, min–max; % of the step's median):");
        for (int i = 0; i < parts.Count; i++)
            Console.WriteLine($"{parts[i].Name,-62} {Median(times[i]) * 1e3,7:F0} ms ({times[i].Min() * 1e3:F0}–{times[i].Max() * 1e3:F0}) {Median(times[i]) / stepMedian,5:P0} · CPU {Median(cpu[i]) * 1e3,7:F0} ms ({cpu[i].Min() * 1e3:F0}–{cpu[i].Max() * 1e3:F0}) · {Median(faults[i]) * 4096 / (1 << 20),6:F0} MiB faulted in");
        var mp = phaseRuns.OrderBy(p => p.Sum()).ElementAt(phaseRuns.Count / 2);
        Console.WriteLine($"trainer step phases (median step): data {mp[0] * 1e3:F0} · forward incl. head {mp[1] * 1e3:F0} · backward {mp[2] * 1e3:F0} · clip+AdamW {mp[3] * 1e3:F0} ms");
        double headFlop = 2.0 * n * h * v;
        Console.WriteLine($"head matmuls: {headFlop / 1e9:F1} GFLOP each way; matmul peak (1536³) now {SystemProbe.MatmulPeak(ScalarType.Float32):F0} GFLOP/s");
    }

    private static double Time(Action run)
    {
        var sw = Stopwatch.StartNew();
        run();
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>Minor page faults of this process so far (/proc/self/stat field 10); 0 where there is none.</summary>
    private static long MinorFaults()
    {
        if (!File.Exists("/proc/self/stat")) return 0;
        string stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);   // field 10 overall: 3 is state, here index 0
    }

    private static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);
}

/// <summary>The trainer's causal loss (<see cref="CausalLoss.FromHidden"/>) with another chunk size, for the A/B.</summary>
internal sealed class ChunkedHeadLoss(long chunkRows) : ITaskLoss
{
    public long Units(TokenizedExample example) => CausalLmLoss.Instance.Units(example);

    public IMicroBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device device) => new MicroBatch(Batch.Collate(examples, padId, device), chunkRows);

    private sealed class MicroBatch(Batch batch, long chunkRows) : IMicroBatch
    {
        public long Tokens => batch.Tokens;

        public IBatchLoss Forward(nn.Module<Tensor, Tensor> model, long stepUnits)
        {
            var lm = (ICausalLM)model;
            return new Loss(CausalLoss.FromHidden(lm, batch.Hidden(lm), batch.Labels, 1.0 / Math.Max(stepUnits, 1), chunkRows));
        }

        public void Dispose() => batch.Dispose();
    }

    private sealed class Loss(HeadLoss loss) : IBatchLoss
    {
        public double Sum => loss.Sum;
        public void Backward() => loss.Backward();
        public void Dispose() => loss.Dispose();
    }
}
