using System.Diagnostics;
using LoraRecipes.Data;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Training;
using LoraRecipes.Training.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary>
/// One encoder classification row on a pretrained encoder (all-MiniLM-L6-v2, <c>builtin:minilm</c>): the trainer's
/// classification step (<see cref="TrainingStep"/> with <see cref="ClassificationLoss"/>: collate → Classify → fp32
/// cross-entropy → backward → clip → AdamW → zero) with LoRA on the
/// row's targets and the classification head trained in full, on a fixed batch of random ids and labels, in lock-step
/// with the PyTorch peer when one is given.
/// </summary>
/// <remarks>
/// The head is freshly initialised (it is not in the checkpoint): its weights go into the batch file so that the peer
/// starts from the same function and the first-step losses can be compared.
/// </remarks>
internal static class ClassificationBench
{
    /// <summary>Two classes, as the sentiment and spam samples.</summary>
    public static readonly string[] Labels = ["negative", "positive"];

    /// <summary>LoRA targets when the row was given the decoder's default (<c>q_proj,v_proj</c>): BERT's names for the same projections.</summary>
    public static IReadOnlyList<string> Targets(IReadOnlyList<string> requested) =>
        requested.SequenceEqual(["q_proj", "v_proj"]) ? ["query", "value"] : requested;

    public static (RowResult Ours, PeerResult? Peer) Run(RowSpec spec, string cache, PeerRunner? peerRunner, int threads)
    {
        var dtype = spec.Precision == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
        using var loaded = ModelLoader.Load(spec.Folder, CPU, dtype, sequenceClassification: true, labels: Labels);
        var model = loaded.Module;
        var classifier = loaded.Classifier!;
        manual_seed(0);
        LoraInjector.Inject(model, new LoraSettings(spec.Rank, spec.Alpha, 0.0, spec.Targets.ToList()), classifier.HeadModules);
        LoraInjector.Freeze(model, classifier.HeadModules.ToList());
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        using var optimizer = new AdamW(trainable.Select(p => (p.name, p.parameter)), weightDecay: 0.01);
        long parameters = model.parameters().Sum(p => p.numel());

        var (examples, batchFile) = WriteBatch(loaded, spec, cache);
        using var peer = peerRunner?.Start(spec, batchFile, threads, classify: true);
        model.train();
        bool fused = FusedAttentionCheck(classifier, examples);
        double matmulPeak = SystemProbe.MatmulPeak(dtype);   // adjacent in time: the machine's load drifts
        SystemProbe.ResetPeak();
        var phases = new List<double[]>();   // per timed step: data, forward, backward, optimizer
        var peerPhases = new List<double[]>();
        double firstLoss = double.NaN, peerFirstLoss = double.NaN;
        long peakAt10 = 0, rssAt10 = 0, liveAt10 = 0;
        try
        {
            // The trainer's own step object with the classification task's loss (example-weighted cross-entropy).
            var step = new TrainingStep(ClassificationLoss.Instance, model, optimizer, padId: 0, CPU, maxGradNorm: 1.0);
            for (int s = 1; s <= spec.Steps; s++)
            {
                var t = new StepTimings();
                var result = step.Run([examples], 1e-4, s, t);
                if (s == 1) firstLoss = result.Loss;
                if (s > TrainingBench.WarmupSteps) phases.Add([t.Data, t.Forward, t.Backward, t.Optimizer]);
                if (s == TrainingBench.MemoryCheckStep) (peakAt10, rssAt10, liveAt10) = (SystemProbe.PeakRss(), SystemProbe.Rss(), Tensor.TotalCount);
                if (peer is null) continue;
                var (peerLoss, p) = peer.Step();
                if (s == 1) peerFirstLoss = peerLoss;
                if (s > TrainingBench.WarmupSteps) peerPhases.Add(p);
            }
        }
        finally
        {
            File.Delete(batchFile);
        }
        long peak = SystemProbe.PeakRss();
        long rssEnd = SystemProbe.Rss();
        long liveEnd = Tensor.TotalCount;
        bool flat = TrainingBench.NoTensorOutlivesItsStep(spec.Steps, liveAt10, liveEnd);
        long tokens = (long)spec.Batch * spec.Seq;
        // Medians, not means: the machine is shared and other processes' bursts land on single steps.
        var median = phases.OrderBy(p => p.Sum()).ElementAt(phases.Count / 2);
        PeerResult? peerResult = null;
        if (peer is not null)
        {
            var pm = peerPhases.OrderBy(p => p.Sum()).ElementAt(peerPhases.Count / 2);
            peerResult = new PeerResult(peerFirstLoss, tokens / pm.Sum(), pm[0], pm[1], pm[2], pm[3], peer.PeakRss, peer.Torch);
        }
        double flops = FlopCount.EncoderClassificationStep(loaded.Config, spec.Batch, spec.Seq, spec.Rank, spec.Targets.ToList());
        return (new RowResult(spec, parameters, firstLoss, tokens / median.Sum(), median[0], median[1], median[2], median[3],
            peak, peakAt10, rssAt10, rssEnd, liveAt10, liveEnd, flops, flat, fused, matmulPeak), peerResult);
    }

    /// <summary>
    /// A fixed batch (B, T) of random ids drawn past the special tokens, full rows (no padding), random class ids, and the
    /// freshly initialised head in fp32, written for the peer; the examples are returned for our own steps.
    /// </summary>
    private static (IReadOnlyList<TokenizedExample> Examples, string File) WriteBatch(LoadedModel loaded, RowSpec spec, string cache)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(1234);
        var ids = randint(1000, loaded.Config.VocabSize, [spec.Batch, spec.Seq], generator: generator, dtype: ScalarType.Int64);
        var labels = randint(0, Labels.Length, [spec.Batch], generator: generator, dtype: ScalarType.Int64);
        var data = ids.data<long>().ToArray();
        var classes = labels.data<long>().ToArray();
        var examples = Enumerable.Range(0, spec.Batch)
            .Select(b => new TokenizedExample(data.Skip(b * spec.Seq).Take(spec.Seq).Select(v => (int)v).ToArray(), [(int)classes[b]], b))
            .ToList();
        var tensors = new Dictionary<string, Tensor> { ["input_ids"] = ids, ["labels"] = labels };
        foreach (var (name, p) in loaded.Module.named_parameters())
            if (loaded.Classifier!.HeadModules.Any(h => name.StartsWith(h + ".", StringComparison.Ordinal)))
                tensors[name] = p.detach().to(ScalarType.Float32).contiguous();
        string file = Path.Combine(cache, $"batch-{Environment.ProcessId}-cls-{spec.Seq}.safetensors");
        SafetensorsWriter.Write(file, tensors);
        return (examples, file);
    }

    /// <summary>One forward/backward with libtorch's math attention backend off: succeeds only if the fused kernel runs (padding mask included).</summary>
    private static bool FusedAttentionCheck(ISequenceClassifier classifier, IReadOnlyList<TokenizedExample> examples)
    {
        bool before = backends.cuda.math_sdp_enabled();
        try
        {
            backends.cuda.enable_math_sdp(false);
            using var scope = NewDisposeScope();
            var (ids, mask, labels) = ClassificationData.Collate(examples.Take(2).ToList(), padId: 0);
            nn.functional.cross_entropy(classifier.Classify(ids, mask).to(ScalarType.Float32), labels).backward();
            foreach (var p in ((nn.Module)classifier).parameters()) p.grad = null;
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
