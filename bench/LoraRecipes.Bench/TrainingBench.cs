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

/// <summary>What one benchmark row asks for.</summary>
internal sealed record RowSpec(string Size, string Folder, string Precision, int Batch, int Seq, int Steps, int Rank, double Alpha, IReadOnlyList<string> Targets, bool Packed,
    string Head = "scored");

/// <summary>What one row measured (seconds are means over the timed steps).</summary>
internal sealed record RowResult(RowSpec Spec, long Parameters, double FirstLoss, double TokensPerSecond, double Data, double Forward, double Backward,
    double Optimizer, long PeakRss, long PeakRssAtStep10, long RssAtStep10, long RssAtEnd, long LiveTensorsAtStep10, long LiveTensorsAtEnd, double FlopsPerStep, bool MemoryFlat, bool FusedAttention, double MatmulPeak);

/// <summary>
/// One row: loads the model in the row's precision, wraps the targets in LoRA, and runs the trainer's step object
/// (<see cref="TrainingStep"/>: collate → forward → fp32 loss → backward → clip → AdamW → zero) on a fixed random batch,
/// timing each phase (<see cref="StepTimings"/>).
/// </summary>
/// <remarks>
/// With the trainer's loss path (<c>head: scored</c>, <see cref="CausalLoss.FromHidden"/>) the head's own backward
/// runs chunk by chunk inside the loss, so it is timed in "forward"; "backward" is the decoder's. The plain path
/// (<c>head: full</c>) computes (B, T, V) logits and times the whole backward in "backward".
/// </remarks>
internal static class TrainingBench
{
    public const int WarmupSteps = 2;
    public const int MemoryCheckStep = 10;

    /// <summary>
    /// The memory check: no more live TorchSharp tensors after the last step than after step <see cref="MemoryCheckStep"/>
    /// (every step's tensors disposed with it; one left to the finalizer keeps its memory until a GC). Counted, not read
    /// from RSS: after <see cref="SystemProbe.ResetPeak"/> trims glibc's heap the resident set settles for 10–20 steps by
    /// tens of MiB (tiny: 505 → 653 MiB over 14 steps, mmap threshold pinned) with no tensor leaked (NOTES §16).
    /// </summary>
    public static bool NoTensorOutlivesItsStep(int steps, long liveAt10, long liveEnd) => steps <= MemoryCheckStep || liveEnd <= liveAt10;

    /// <summary>
    /// Runs the row; with a <paramref name="peer"/>, each of our steps is followed by one of the peer's, so both see
    /// the same load on a shared machine, and the peer's figures come back from the same median.
    /// </summary>
    public static (RowResult Ours, PeerResult? Peer) Run(RowSpec spec, IReadOnlyList<TokenizedExample> examples, PeerSession? peer = null)
    {
        var dtype = spec.Precision == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
        using var loaded = ModelLoader.Load(spec.Folder, CPU, dtype);
        var model = loaded.Module;
        manual_seed(0);
        LoraInjector.Inject(model, new LoraSettings(spec.Rank, spec.Alpha, 0.0, spec.Targets.ToList()));
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        using var optimizer = new AdamW(trainable.Select(p => (p.name, p.parameter)), weightDecay: 0.01);
        // Distinct tensors: a tied head is the embedding matrix, listed twice by parameters() under two wrappers (the
        // handles differ too: the 44m row read 60.2M for its 43.8M parameters); the trainer's count compares storage.
        long parameters = TrainableParameters.CountDistinct(model);
        model.train();
        bool fused = FusedAttentionCheck(model, examples);

        double matmulPeak = SystemProbe.MatmulPeak(dtype);   // adjacent in time: the machine's load drifts
        SystemProbe.ResetPeak();
        var phases = new List<double[]>();   // per timed step: data, forward, backward, optimizer
        var peerPhases = new List<double[]>();
        double firstLoss = double.NaN, peerFirstLoss = double.NaN;
        long tokensPerStep = 0, scoredPerStep = 0, peakAt10 = 0, rssAt10 = 0, liveAt10 = 0;
        // The trainer's own step object (Training/TrainingStep.cs): the same collate → forward → loss → backward → clip →
        // AdamW → zero, timed phase by phase. head: full swaps in the plain (B, T, V) logits loss below.
        ITaskLoss loss = spec.Head switch { "full" => FullLogitsLoss.Instance, "previous" => PreviousHeadLoss.Instance, _ => CausalLmLoss.Instance };
        var step = new TrainingStep(loss, model, optimizer, padId: 0, CPU, maxGradNorm: 1.0);
        scoredPerStep = examples.Sum(loss.Units);
        for (int s = 1; s <= spec.Steps; s++)
        {
            var t = new StepTimings();
            var result = step.Run([examples], 1e-4, s, t);
            if (s == 1) firstLoss = result.Loss;
            if (s > WarmupSteps) phases.Add([t.Data, t.Forward, t.Backward, t.Optimizer]);
            tokensPerStep = result.Tokens;
            if (s == MemoryCheckStep) (peakAt10, rssAt10, liveAt10) = (SystemProbe.PeakRss(), SystemProbe.Rss(), Tensor.TotalCount);
            if (peer is null) continue;
            var (peerLoss, p) = peer.Step();
            if (s == 1) peerFirstLoss = peerLoss;
            if (s > WarmupSteps) peerPhases.Add(p);
        }
        long peak = SystemProbe.PeakRss();
        long rssEnd = SystemProbe.Rss();
        long liveEnd = Tensor.TotalCount;
        bool flat = TrainingBench.NoTensorOutlivesItsStep(spec.Steps, liveAt10, liveEnd);
        // Medians, not means: the machine is shared and other processes' bursts land on single steps.
        var median = phases.OrderBy(p => p.Sum()).ElementAt(phases.Count / 2);
        PeerResult? peerResult = null;
        if (peer is not null)
        {
            var pm = peerPhases.OrderBy(p => p.Sum()).ElementAt(peerPhases.Count / 2);
            peerResult = new PeerResult(peerFirstLoss, tokensPerStep / pm.Sum(), pm[0], pm[1], pm[2], pm[3], peer.PeakRss, peer.Torch);
        }
        return (new RowResult(spec, parameters, firstLoss, tokensPerStep / median.Sum(), median[0], median[1], median[2], median[3],
            peak, peakAt10, rssAt10, rssEnd, liveAt10, liveEnd, FlopCount.TrainingStep(loaded.Config, spec.Batch, spec.Seq, spec.Rank, spec.Targets.ToList(), scoredPerStep), flat, fused, matmulPeak), peerResult);
    }

    /// <summary>
    /// One forward/backward with libtorch's math SDPA backend switched off: it only succeeds if attention runs the
    /// fused (flash) kernel at these shapes, dtype and mask.
    /// </summary>
    private static bool FusedAttentionCheck(nn.Module<Tensor, Tensor> model, IReadOnlyList<TokenizedExample> examples)
    {
        bool before = backends.cuda.math_sdp_enabled();
        try
        {
            backends.cuda.enable_math_sdp(false);
            using var scope = NewDisposeScope();
            using var batch = Batch.Collate(examples.Take(1).ToList(), padId: 0);
            CausalLoss.Sum(batch.Logits(model), batch.Labels).backward();
            foreach (var p in model.parameters()) p.grad = null;
            return true;
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or InvalidOperationException)
        {
            return false;
        }
        finally
        {
            backends.cuda.enable_math_sdp(before);
        }
    }
}

/// <summary>
/// <c>head: full</c>: the plain causal loss over (B, T, V) logits (<see cref="CausalLoss.Sum"/>), the path the trainer's
/// scored-positions loss replaced; measured beside it through the same <see cref="TrainingStep"/>.
/// </summary>
internal sealed class FullLogitsLoss : ITaskLoss
{
    public static readonly FullLogitsLoss Instance = new();

    public long Units(TokenizedExample example) => CausalLmLoss.Instance.Units(example);

    public IMicroBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device device) => new MicroBatch(Batch.Collate(examples, padId, device));

    private sealed class MicroBatch(Batch batch) : IMicroBatch
    {
        public long Tokens => batch.Tokens;

        public IBatchLoss Forward(nn.Module<Tensor, Tensor> model, long stepUnits) =>
            new Loss(CausalLoss.Sum(batch.Logits(model), batch.Labels), stepUnits);   // (B, T, V) logits, fp32 loss

        public void Dispose() => batch.Dispose();
    }

    private sealed class Loss(Tensor sum, long stepUnits) : IBatchLoss
    {
        public double Sum => sum.item<float>();
        public void Backward() => (sum / stepUnits).backward();
        public void Dispose() => sum.Dispose();
    }
}
