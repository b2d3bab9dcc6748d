using System.Diagnostics;
using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Training.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>
/// Runs one training plan: setup → (resume | evaluate at step 0) → train, checkpointing → evaluate → save. Progress
/// goes out as <see cref="TrainingEvent"/>s; the front end decides how to show them.
/// </summary>
/// <remarks>
/// Every <c>checkpoint_every</c> steps, at each epoch end, and when asked to stop, the complete state goes to
/// <c>&lt;output&gt;/checkpoints</c> (see <see cref="CheckpointStore"/>); a resumed run on CPU ends with the same adapter
/// bytes as an uninterrupted one.
/// </remarks>
public sealed class LoraTrainer
{
    private readonly TrainingPlan _plan;
    private readonly Action<TrainingEvent> _emit;
    private readonly TrainerOptions _options;
    /// <summary>Set for <c>task: sequence-classification</c>: the head, loss and metrics of that task.</summary>
    private ClassificationTask? _classification;

    public LoraTrainer(TrainingPlan plan, Action<TrainingEvent>? onEvent = null, TrainerOptions? options = null)
    {
        _plan = plan;
        _emit = onEvent ?? (_ => { });
        _options = options ?? new TrainerOptions();
    }

    /// <summary>Test hook: when it returns true for a (1-based) step, that step's gradient is poisoned with NaN.</summary>
    internal Func<int, bool>? InjectNonFiniteGradient { get; set; }

    /// <summary>Trains and writes the artifacts; returns the summary that the manifest records.</summary>
    /// <exception cref="TrainingInterruptedException"><paramref name="cancellation"/> fired; a checkpoint was written.</exception>
    /// <exception cref="TrainingException">A failure the user can act on (NaN, out of memory, full disk, checkpoint mismatch).</exception>
    public TrainingSummary Run(CancellationToken cancellation = default)
    {
        PlanSupport.EnsureTrainable(_plan);
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
        _classification = ClassificationTask.For(_plan, baseFolder);
        using var loaded = ModelLoader.Load(baseFolder, device, baseDType, sequenceClassification: _classification is not null, labels: _classification?.Labels.Names);
        var model = loaded.Module;
        // A private generator: LoRA init and dropout do not depend on what else in the process draws from torch's RNG,
        // and a checkpoint saves exactly this stream's state.
        using var generator = new Generator((ulong)opts.Seed);
        var wrapped = AdapterMethods.Inject(model, AdapterMethods.For(recipe, loaded.Config.ModelType, generator), loaded.Classifier?.HeadModules);
        // Classification: the head (and lora.modules_to_save) trains in full, as PEFT's modules_to_save.
        if (_classification is not null) LoraInjector.Freeze(model, ClassificationTask.ModulesToSave(loaded.Classifier!, recipe.Lora));
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        long totalParams = model.parameters().Sum(p => p.numel());
        long trainableParams = trainable.Sum(p => p.parameter.numel());

        // --- data: read, split, encode ---------------------------------------------------------------
        // tokenized once per data file × tokenizer × settings (bench/NOTES.md), then memory-mapped from the cache:
        // the examples stay in the file and each step decodes its own (issue #7). Classification data stays in memory.
        using var loadedData = _classification?.Encode(loaded.Tokenizer) ?? TrainingData.Load(_plan, loaded.Tokenizer, CacheForTokens(), loaded.Folder);
        foreach (string warning in loadedData.Warnings) _emit(new RunWarning(warning));
        // packing (bench/NOTES.md): samples laid end to end in rows of max_length, each row built when its step reads
        // it; the loop below sees rows as examples.
        var data = recipe.Data.Packing ? loadedData with { Train = SequencePacker.PackLazily(loadedData.Train, recipe.Data.MaxLength) } : loadedData;
        int padId = loaded.Tokenizer.PadId ?? loaded.Tokenizer.EosId ?? 0;
        int batchesPerEpoch = (data.Train.Count + opts.BatchSize - 1) / opts.BatchSize;
        int stepsPerEpoch = (batchesPerEpoch + opts.GradientAccumulation - 1) / opts.GradientAccumulation;
        int totalSteps = opts.MaxSteps ?? stepsPerEpoch * opts.Epochs;
        int epochs = opts.MaxSteps is { } max ? (max + stepsPerEpoch - 1) / stepsPerEpoch : opts.Epochs;
        var schedule = new LearningRateSchedule(YamlNames.ToYaml(opts.Scheduler, ["linear", "cosine", "constant"]),
            opts.LearningRate, LearningRateSchedule.WarmupFor(opts.WarmupRatio, totalSteps), totalSteps);
        _emit(new RunStarted(recipe.Name, device.ToString(), threads, trainableParams, totalParams, wrapped.Keys.ToList(),
            data.Train.Count, data.Validation.Count, totalSteps, epochs, _plan.Fingerprint));

        // --- start: from the newest checkpoint, or evaluate the untrained adapter (step 0) -------------
        using var optimizer = new AdamW(trainable, opts.WeightDecay);
        var store = new CheckpointStore(_plan.OutputDirectory, _options.KeepCheckpoints);
        var p = (_options.Resume ? TryResume(store, trainable, optimizer, generator, totalSteps) : null) ?? new TrainingProgress();
        if (p.ResumedFrom is null)
        {
            if (store.List().Count > 0)
                _emit(new RunWarning($"{store.Folder} holds checkpoints of an earlier run; they are replaced at this run's first checkpoint (use --resume to continue it instead)."));
            p.InitialValidationLoss = p.LastValidationLoss = Evaluate(model, loaded, data, padId, device, step: 0, p.Log)?.Loss;
        }

        void Checkpoint(int epoch, int batchIndex)
        {
            if (p.LastCheckpointStep == p.Step && p.Epoch == epoch && p.BatchIndex == batchIndex) return;
            (p.Epoch, p.BatchIndex) = (epoch, batchIndex);
            var (state, tensors) = TrainingSnapshot.Capture(p, epoch, batchIndex, _plan.Fingerprint, recipe.Name, trainable, optimizer, generator);
            try
            {
                p.LastCheckpoint = store.Save(state, tensors);
            }
            catch (Exception ex) when (ResourceFaults.IsWriteFailure(ex))
            {
                throw new TrainingException($"could not write the checkpoint of step {p.Step} to {store.Folder}: {ResourceFaults.DescribeWriteFailure(ex)} " +
                    $"{LastGood(p)} Free disk space, then continue with --resume.", ExitCodes.TrainingFailed, ex);
            }
            p.LastCheckpointStep = p.Step;
            _emit(new CheckpointSaved(p.Step, p.LastCheckpoint));
        }

        // --- train: one update per gradient_accumulation micro-batches --------------------------------
        model.train();
        var (startEpoch, startBatch) = (p.Epoch, p.BatchIndex);
        try
        {
            for (int epoch = startEpoch; epoch < epochs && p.Step < totalSteps; epoch++)
            {
                // Length-grouped (bench/NOTES.md): similar lengths share a batch, so little padding is computed;
                // a pure function of seed and epoch, so a resumed run sees the same batches.
                // Only indices here: a step materialises (decodes, packs) just its own examples below.
                var batches = LengthGrouping.Batches(data.Train, opts.BatchSize, (ulong)opts.Seed * 1_000_003UL + (ulong)epoch);
                int first = epoch == startEpoch ? startBatch : 0;
                for (int b = first; b < batches.Count && p.Step < totalSteps; b += opts.GradientAccumulation)
                {
                    // Stop requested: only here, between steps, where the state is whole.
                    if (cancellation.IsCancellationRequested)
                    {
                        // Nothing trained yet: saving would only replace an earlier run's checkpoints with an empty one.
                        if (p.Step > 0) Checkpoint(epoch, b);
                        throw new TrainingInterruptedException(p.Step, p.LastCheckpoint);
                    }
                    var window = batches.Skip(b).Take(opts.GradientAccumulation).Select(ix => ix.Select(i => data.Train[i]).ToList()).ToList();
                    var timer = Stopwatch.StartNew();
                    double lr = schedule.At(p.Step);
                    var (loss, gradNorm, tokens) = ForwardBackward(model, optimizer, window, padId, device, opts.MaxGradNorm, p.Step + 1);
                    p.Step++;
                    if (double.IsFinite(loss) && double.IsFinite(gradNorm))
                    {
                        optimizer.Step(lr);
                        p.ConsecutiveSkipped = 0;
                    }
                    optimizer.ZeroGrad();
                    timer.Stop();
                    p.TrainSeconds += timer.Elapsed.TotalSeconds;
                    p.TokensSeen += tokens;
                    if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
                    {
                        SkipOrStop(p, loss, gradNorm);
                        continue;
                    }
                    p.LastTrainLoss = loss;
                    var stepEvent = new StepCompleted(p.Step, totalSteps, epoch + (double)(b + window.Count) / batches.Count, loss, lr, gradNorm, p.TokensPerSecond, p.TokensSeen);
                    p.Log.Add(stepEvent);
                    _emit(stepEvent);
                    if (recipe.Evaluation.EverySteps is { } every && p.Step % every == 0 && p.Step < totalSteps)
                        p.LastValidationLoss = Evaluate(model, loaded, data, padId, device, p.Step, p.Log)?.Loss ?? p.LastValidationLoss;
                    // The epoch's last step is saved by the epoch-end checkpoint below, after the epoch's evaluation.
                    if (p.Step % opts.CheckpointEvery == 0 && b + opts.GradientAccumulation < batches.Count && p.Step < totalSteps)
                        Checkpoint(epoch, b + opts.GradientAccumulation);
                }
                if (recipe.Evaluation.Schedule == EvaluationSchedule.Epoch && p.Step < totalSteps)
                    p.LastValidationLoss = Evaluate(model, loaded, data, padId, device, p.Step, p.Log)?.Loss ?? p.LastValidationLoss;
                Checkpoint(epoch + 1, 0);
            }
            if (!recipe.Evaluation.Never)
                p.LastValidationLoss = Evaluate(model, loaded, data, padId, device, p.Step, p.Log, samples: true)?.Loss ?? p.LastValidationLoss;
        }
        catch (Exception ex) when (ResourceFaults.IsOutOfMemory(ex))
        {
            throw ResourceFaults.OutOfMemory(ex, recipe, device.ToString(), p.Step, p.LastCheckpoint);
        }

        // --- save: adapter, manifest, metrics, resolved recipe ---------------------------------------
        var summary = new TrainingSummary(p.Step, p.InitialValidationLoss, p.LastValidationLoss, p.LastTrainLoss,
            wall.Elapsed.TotalSeconds, p.TokensPerSecond, p.TokensSeen, Process.GetCurrentProcess().PeakWorkingSet64, p.SkippedSteps, p.ResumedFrom);
        if (_classification is not null) summary = ClassificationTask.WithAccuracy(summary, p.Log);
        var environment = new RunEnvironment(device.ToString(), threads, DeviceSelection.PrecisionName(baseDType));
        try
        {
            ArtifactWriter.Write(_plan, wrapped, loaded, p.Log, summary, environment);
        }
        catch (Exception ex) when (ResourceFaults.IsWriteFailure(ex))
        {
            throw new TrainingException($"could not write the artifacts to {_plan.OutputDirectory}: {ResourceFaults.DescribeWriteFailure(ex)} Files already there are untouched. " +
                $"{LastGood(p)} Free disk space, then run again with --resume.", ExitCodes.TrainingFailed, ex);
        }
        _emit(new RunCompleted(_plan.OutputDirectory, summary));
        return summary;
    }

    /// <summary>Continues from the newest checkpoint, or returns null (with a warning) when there is none.</summary>
    private TrainingProgress? TryResume(CheckpointStore store, IReadOnlyList<(string Name, Parameter Param)> trainable, AdamW optimizer, Generator generator, int totalSteps)
    {
        (string Folder, CheckpointState State)? latest;
        try
        {
            latest = store.Latest();
        }
        catch (CheckpointException ex)
        {
            throw new TrainingException(ex.Message + " Delete that folder to resume from an older checkpoint, or run without --resume.", ExitCodes.InvalidInput, ex);
        }
        if (latest is not { } found)
        {
            _emit(new RunWarning($"--resume: no checkpoint in {store.Folder}; starting from the beginning."));
            return null;
        }
        var (folder, state) = found;
        bool differs = state.Fingerprint != _plan.Fingerprint;
        if (differs && !_options.Force)
            throw new TrainingException(
                $"the checkpoint {folder} (step {state.Step}) was written for plan fingerprint {state.Fingerprint}, but this recipe and its inputs give {_plan.Fingerprint}: " +
                "the recipe, an override, the data or the base model changed since. Run without --resume to start over, or add --force to continue from the checkpoint anyway " +
                "(the result will match neither run exactly).", ExitCodes.InvalidInput);
        try
        {
            var p = TrainingSnapshot.Restore(folder, state, trainable, optimizer, generator);
            store.Adopt();
            _emit(new RunResumed(p.Step, totalSteps, folder, differs));
            return p;
        }
        catch (Exception ex) when (ex is CheckpointException or IO.SafetensorsFormatException or FormatException)
        {
            throw new TrainingException($"cannot resume from {folder}: {ex.Message}", ExitCodes.InvalidInput, ex);
        }
    }

    /// <summary>A non-finite loss or gradient: stop (default) or, under <c>on_nan: skip_step</c>, drop the update and go on.</summary>
    private void SkipOrStop(TrainingProgress p, double loss, double gradNorm)
    {
        string what = !double.IsFinite(loss) ? $"the training loss is {loss}" : $"the gradient norm is {gradNorm}";
        string cure = "Lower training.learning_rate or check the data" +
                      (_plan.Recipe.Training.OnNan == NanPolicy.Stop ? ", or set training.on_nan: skip_step to drop such steps." : ".");
        if (_plan.Recipe.Training.OnNan == NanPolicy.Stop)
            throw new TrainingException($"step {p.Step}: {what}; stopping before it reaches the weights. {LastGood(p)} {cure}", ExitCodes.TrainingFailed);
        p.SkippedSteps++;
        p.ConsecutiveSkipped++;
        _emit(new StepSkipped(p.Step, what, p.ConsecutiveSkipped, p.SkippedSteps));
        if (p.ConsecutiveSkipped >= _options.MaxConsecutiveSkippedSteps)
            throw new TrainingException($"step {p.Step}: {p.ConsecutiveSkipped} steps in a row had a non-finite loss or gradient (on_nan: skip_step); stopping. {LastGood(p)} {cure}",
                ExitCodes.TrainingFailed);
    }

    private static string LastGood(TrainingProgress p) => p.LastCheckpoint is { } c
        ? $"The last good checkpoint is {c} (step {p.LastCheckpointStep})."
        : "No checkpoint had been written yet (training.checkpoint_every); nothing was saved.";

    /// <summary>Forward/backward over the micro-batches of one update, then clip. Returns (mean loss, grad norm, tokens); the caller steps.</summary>
    private (double Loss, double GradNorm, long Tokens) ForwardBackward(nn.Module<Tensor, Tensor> model, AdamW optimizer,
        IReadOnlyList<List<TokenizedExample>> window, int padId, Device device, double? maxGradNorm, int step)
    {
        // Token-weighted over the whole window: every scored token counts once, whatever batch it is in.
        // Classification: example-weighted (one label per example).
        long scored = _classification is null ? window.Sum(batch => batch.Sum(ScoredPositions)) : window.Sum(batch => batch.Count);
        double lossSum = 0;
        long tokens = 0;
        foreach (var examples in window)
        {
            using var scope = NewDisposeScope();
            if (_classification is not null)
            {
                var (sum, count) = ClassificationTask.LossSum((ISequenceClassifier)model, examples, padId, device);
                (sum / Math.Max(scored, 1)).backward();
                lossSum += sum.item<float>();
                tokens += count;
                continue;
            }
            using var batch = Batch.Collate(examples, padId, device);
            // The head runs only at scored positions, chunk by chunk (CausalLoss.FromHidden); packed rows bring positions + mask.
            var lm = (ICausalLM)model;
            using var loss = CausalLoss.FromHidden(lm, batch.Hidden(lm), batch.Labels, gradScale: 1.0 / Math.Max(scored, 1));
            loss.Backward();
            lossSum += loss.Sum;
            tokens += batch.Tokens;
        }
        if (InjectNonFiniteGradient?.Invoke(step) == true && optimizer.Parameters.First().grad is { } g)
            g.fill_(double.NaN);
        using var clipScope = NewDisposeScope();
        // The total norm before clipping; NaN/inf when any gradient is, which the caller checks before stepping.
        double gradNorm = nn.utils.clip_grad_norm_(optimizer.Parameters, maxGradNorm ?? double.PositiveInfinity);
        return (lossSum / Math.Max(scored, 1), gradNorm, tokens);
    }

    /// <summary>Positions whose next-token label is scored (the first position never is); the step's examples are already decoded.</summary>
    private static int ScoredPositions(TokenizedExample e) => ExampleLengths.Scored(e.Labels);

    /// <summary>The token cache of <see cref="TrainerOptions"/>; null when caching is off.</summary>
    private TokenCache? CacheForTokens() => _options.CacheTokens
        ? new TokenCache(_options.TokenCacheDirectory ?? Path.Combine(Native.LibTorchLoader.CacheDirectory(), "tokens"))
        : null;

    private LossResult? Evaluate(nn.Module<Tensor, Tensor> model, LoadedModel loaded, TrainingData data, int padId, Device device, int step, MetricsLog log, bool samples = false)
    {
        if (_classification is not null)
            return _classification.Evaluate(loaded.Classifier!, loaded.Tokenizer, data, padId, device, step, log, _emit, samples);
        var recipe = _plan.Recipe;
        LossResult? result = null;
        if (data.Validation.Count > 0 && !recipe.Evaluation.Never)
        {
            result = LossEvaluator.Evaluate(model, data.Validation, recipe.Training.BatchSize, padId, device);
            var e = new EvaluationCompleted(step, result.Loss, result.Perplexity, result.Tokens, GenerationMetricsFor(model, loaded, device));
            log.Add(e);
            _emit(e);
        }
        if (samples || step == 0)
        {
            var formatter = PromptFormatter.For(recipe.Data.PromptTemplate, loaded.Tokenizer);
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

    /// <summary>Validation records scored by generation metrics: at most this many, so an evaluation stays cheap.</summary>
    internal const int GenerationRecords = 32;

    /// <summary>New tokens per generated answer at evaluation (greedy).</summary>
    internal const int GenerationTokens = 64;

    private IReadOnlyList<DataRecord>? _generationRecords;

    /// <summary>
    /// evaluation.metrics' exact_match / bleu / rouge_l: greedy generation (≤ <see cref="GenerationTokens"/> new tokens) on the
    /// first <see cref="GenerationRecords"/> validation records (the recipe's validation file, or the same split the loss uses),
    /// scored against each record's output; null when the recipe lists none.
    /// </summary>
    private Dictionary<string, double>? GenerationMetricsFor(nn.Module<Tensor, Tensor> model, LoadedModel loaded, Device device)
    {
        var names = _plan.Recipe.Evaluation.Metrics.Select(m => YamlNames.ToYaml(m, GenerationMetrics.Names.Concat(["loss", "perplexity", "accuracy", "f1"]))).Where(GenerationMetrics.Names.Contains).ToList();
        if (names.Count == 0) return null;
        if (_generationRecords is null)
        {
            var d = _plan.Recipe.Data;
            IReadOnlyList<DataRecord> records;
            if (_plan.ValidationPath is { } path) records = DataReader.Read(path, d.Format);
            else
            {
                var all = DataReader.Read(_plan.TrainPath, d.Format);
                var (_, validation) = DatasetSplit.SplitIndices(all.Count, d.ValidationSplit, (ulong)_plan.Recipe.Training.Seed);
                records = validation.Select(i => all[i]).ToList();
            }
            _generationRecords = records.Take(GenerationRecords).ToList();
        }
        if (_generationRecords.Count == 0) return null;
        var formatter = PromptFormatter.For(_plan.Recipe.Data.PromptTemplate, loaded.Tokenizer);
        var options = new GenerationOptions { MaxNewTokens = GenerationTokens, Temperature = 0, StopStrings = formatter.EndOfTurn.Length > 0 ? [formatter.EndOfTurn] : [] };
        var result = GenerationEvaluator.Evaluate(model, loaded.Tokenizer, formatter, _generationRecords, names, options, device);
        return new Dictionary<string, double>(result.Metrics, StringComparer.Ordinal);
    }

    internal static LoraSettings ToSettings(LoraOptions lora) =>
        new(lora.R, lora.Alpha, lora.Dropout, lora.TargetModules.ToList(), lora.UseRslora, lora.Init, UseDora: lora.UseDora);
}
