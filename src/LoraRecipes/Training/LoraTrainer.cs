using System.Diagnostics;
using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>
/// Runs one training plan: setup → evaluate (step 0) → train → evaluate → save. Progress goes out as
/// <see cref="TrainingEvent"/>s; the front end decides how to show them.
/// </summary>
public sealed class LoraTrainer
{
    private readonly TrainingPlan _plan;
    private readonly Action<TrainingEvent> _emit;

    public LoraTrainer(TrainingPlan plan, Action<TrainingEvent>? onEvent = null)
    {
        _plan = plan;
        _emit = onEvent ?? (_ => { });
    }

    /// <summary>Trains and writes the artifacts; returns the summary that the manifest records.</summary>
    public TrainingSummary Run(CancellationToken cancellation = default)
    {
        var recipe = _plan.Recipe;
        var opts = recipe.Training;
        var wall = Stopwatch.StartNew();

        // --- setup: threads, seed, device -------------------------------------------------------
        int threads = opts.Threads ?? DeviceSelection.PhysicalCores();
        set_num_threads(threads);
        var device = DeviceSelection.Resolve(opts.Device);
        // precision (bench/NOTES.md): the frozen base in bf16 where the hardware multiplies bf16 natively;
        // LoRA A/B, AdamW state and the loss stay fp32 (LoraInjector creates A/B in fp32, CausalLoss upcasts).
        string baseFolder = ModelLoader.ResolveFolder(_plan.BaseModel);
        var (baseDType, precisionWarning) = DeviceSelection.ResolvePrecision(opts.Precision, device,
            ModelConfig.Load(Path.Combine(baseFolder, "config.json")).HiddenSize);
        if (precisionWarning is not null) _emit(new RunWarning(precisionWarning));

        // --- model: base weights, then LoRA around the targets ------------------------------------
        using var loaded = ModelLoader.Load(baseFolder, device, baseDType);
        var model = loaded.Module;
        manual_seed(opts.Seed);   // here, not earlier: building or materialising the base may draw from the RNG
        var wrapped = LoraInjector.Inject(model, ToSettings(recipe.Lora));
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        long totalParams = model.parameters().Sum(p => p.numel());
        long trainableParams = trainable.Sum(p => p.parameter.numel());

        // --- data: read, split, encode ---------------------------------------------------------------
        // tokenized once per data file × tokenizer × settings (bench/NOTES.md), then read back from the cache
        var data = TrainingData.Load(_plan, loaded.Tokenizer, new TokenCache(Path.Combine(Native.LibTorchLoader.CacheDirectory(), "tokens")), loaded.Folder);
        foreach (string warning in data.Warnings) _emit(new RunWarning(warning));
        // packing (bench/NOTES.md): samples laid end to end in rows of max_length; the loop below sees rows as examples.
        if (recipe.Data.Packing) data = data with { Train = SequencePacker.Pack(data.Train, recipe.Data.MaxLength) };
        int padId = loaded.Tokenizer.PadId ?? loaded.Tokenizer.EosId ?? 0;
        int batchesPerEpoch = (data.Train.Count + opts.BatchSize - 1) / opts.BatchSize;
        int stepsPerEpoch = (batchesPerEpoch + opts.GradientAccumulation - 1) / opts.GradientAccumulation;
        int totalSteps = opts.MaxSteps ?? stepsPerEpoch * opts.Epochs;
        int epochs = opts.MaxSteps is { } max ? (max + stepsPerEpoch - 1) / stepsPerEpoch : opts.Epochs;
        var schedule = new LearningRateSchedule(YamlNames.ToYaml(opts.Scheduler, ["linear", "cosine", "constant"]),
            opts.LearningRate, LearningRateSchedule.WarmupFor(opts.WarmupRatio, totalSteps), totalSteps);
        _emit(new RunStarted(recipe.Name, device.ToString(), threads, trainableParams, totalParams, wrapped.Keys.ToList(),
            data.Train.Count, data.Validation.Count, totalSteps, epochs, _plan.Fingerprint));

        var log = new MetricsLog();
        double? initialLoss = Evaluate(model, loaded, data, padId, device, step: 0, log)?.Loss;
        double? finalValidation = initialLoss;

        // --- train: one update per gradient_accumulation micro-batches --------------------------------
        using var optimizer = new AdamW(trainable.Select(p => (p.name, p.parameter)), opts.WeightDecay);
        model.train();
        int step = 0;
        long tokensSeen = 0;
        double trainSeconds = 0, lastLoss = double.NaN;
        for (int epoch = 0; epoch < epochs && step < totalSteps; epoch++)
        {
            // Length-grouped (bench/NOTES.md): similar lengths share a batch, so little padding is computed.
            var order = LengthGrouping.Batches(data.Train, opts.BatchSize, (ulong)opts.Seed * 1_000_003UL + (ulong)epoch);
            var batches = order.Select(ix => ix.Select(i => data.Train[i]).ToList()).ToList();
            for (int b = 0; b < batches.Count && step < totalSteps; b += opts.GradientAccumulation)
            {
                cancellation.ThrowIfCancellationRequested();
                var window = batches.Skip(b).Take(opts.GradientAccumulation).ToList();
                var timer = Stopwatch.StartNew();
                double lr = schedule.At(step);
                var (loss, gradNorm, tokens) = TrainStep(model, optimizer, window, padId, device, lr, opts.MaxGradNorm);
                timer.Stop();
                trainSeconds += timer.Elapsed.TotalSeconds;
                tokensSeen += tokens;
                step++;
                if (!double.IsFinite(loss))
                    throw new TrainingException($"the training loss became {loss} at step {step}; lower training.learning_rate or check the data. Nothing was saved.", ExitCodes.TrainingFailed);
                lastLoss = loss;
                var stepEvent = new StepCompleted(step, totalSteps, epoch + (double)(b + window.Count) / batches.Count, loss, lr, gradNorm, tokensSeen / Math.Max(trainSeconds, 1e-9), tokensSeen);
                log.Add(stepEvent);
                _emit(stepEvent);
                if (recipe.Evaluation.EverySteps is { } every && step % every == 0 && step < totalSteps)
                    finalValidation = Evaluate(model, loaded, data, padId, device, step, log)?.Loss ?? finalValidation;
            }
            bool lastStep = step >= totalSteps;
            if (recipe.Evaluation.Schedule == EvaluationSchedule.Epoch && !lastStep)
                finalValidation = Evaluate(model, loaded, data, padId, device, step, log)?.Loss ?? finalValidation;
        }
        if (!recipe.Evaluation.Never)
            finalValidation = Evaluate(model, loaded, data, padId, device, step, log, samples: true)?.Loss ?? finalValidation;

        // --- save: adapter, manifest, metrics, resolved recipe ---------------------------------------
        var summary = new TrainingSummary(step, initialLoss, finalValidation, double.IsNaN(lastLoss) ? null : lastLoss,
            wall.Elapsed.TotalSeconds, tokensSeen / Math.Max(trainSeconds, 1e-9), tokensSeen, Process.GetCurrentProcess().PeakWorkingSet64);
        var environment = new RunEnvironment(device.ToString(), threads, DeviceSelection.PrecisionName(baseDType));
        ArtifactWriter.Write(_plan, wrapped, loaded, log, summary, environment);
        _emit(new RunCompleted(_plan.OutputDirectory, summary));
        return summary;
    }

    /// <summary>Forward/backward over the micro-batches of one update, then clip and step. Returns (mean loss, grad norm, tokens).</summary>
    private static (double Loss, double GradNorm, long Tokens) TrainStep(nn.Module<Tensor, Tensor> model, AdamW optimizer,
        IReadOnlyList<List<TokenizedExample>> window, int padId, Device device, double lr, double? maxGradNorm)
    {
        // Token-weighted over the whole window: every scored token counts once, whatever batch it is in.
        long scored = window.Sum(batch => batch.Sum(ScoredPositions));
        double lossSum = 0;
        long tokens = 0;
        foreach (var examples in window)
        {
            using var scope = NewDisposeScope();
            using var batch = Batch.Collate(examples, padId, device);
            var logits = batch.Logits(model);                                   // (B, T, V); packed rows bring positions + mask
            var loss = CausalLoss.Sum(logits, batch.Labels);
            (loss / Math.Max(scored, 1)).backward();
            lossSum += loss.item<float>();
            tokens += batch.Tokens;
        }
        double gradNorm;
        using (var scope = NewDisposeScope())
        {
            gradNorm = nn.utils.clip_grad_norm_(optimizer.Parameters, maxGradNorm ?? double.PositiveInfinity);
        }
        optimizer.Step(lr);
        optimizer.ZeroGrad();
        return (lossSum / Math.Max(scored, 1), gradNorm, tokens);
    }

    /// <summary>Positions whose next-token label is scored (the first position never is).</summary>
    private static int ScoredPositions(TokenizedExample e)
    {
        int n = 0;
        for (int i = 1; i < e.Labels.Length; i++) if (e.Labels[i] != ExampleEncoder.IgnoreIndex) n++;
        return n;
    }

    private LossResult? Evaluate(nn.Module<Tensor, Tensor> model, LoadedModel loaded, TrainingData data, int padId, Device device, int step, MetricsLog log, bool samples = false)
    {
        var recipe = _plan.Recipe;
        LossResult? result = null;
        if (data.Validation.Count > 0 && !recipe.Evaluation.Never)
        {
            result = LossEvaluator.Evaluate(model, data.Validation, recipe.Training.BatchSize, padId, device);
            var e = new EvaluationCompleted(step, result.Loss, result.Perplexity, result.Tokens);
            log.Add(e);
            _emit(e);
        }
        if (samples || step == 0)
        {
            var formatter = PromptFormatter.For(recipe.Data.PromptTemplate);
            foreach (string prompt in recipe.Evaluation.Samples)
            {
                string text = TextGenerator.Generate(model, loaded.Tokenizer, formatter.FormatPrompt(prompt),
                    new GenerationOptions { MaxNewTokens = 64, StopStrings = formatter.EndOfTurn.Length > 0 ? [formatter.EndOfTurn] : [] }, device);
                var e = new SampleGenerated(step, prompt, text);
                log.Add(e);
                _emit(e);
            }
        }
        return result;
    }

    internal static LoraSettings ToSettings(LoraOptions lora) =>
        new(lora.R, lora.Alpha, lora.Dropout, lora.TargetModules.ToList(), lora.UseRslora, lora.Init);
}
