using System.Diagnostics;
using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Events;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Training.Checkpoints;
using LoraRecipes.Training.Tasks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>
/// Runs one training plan: setup → (resume | evaluate at step 0) → train, checkpointing → evaluate → save. Progress
/// goes out as <see cref="TrainingEvent"/>s; the front end decides how to show them.
/// </summary>
/// <remarks>
/// The phases are the same for every task: what a task changes — the model's head, the data, the loss, the evaluation, the
/// modules saved in full — comes from its <see cref="ITrainingTask"/>, and one update is a <see cref="TrainingStep"/>.
/// Every <c>checkpoint_every</c> steps, at each epoch end, and when asked to stop, the complete state goes to
/// <c>&lt;output&gt;/checkpoints</c> (see <see cref="CheckpointStore"/>); a resumed run on CPU ends with the same adapter
/// bytes as an uninterrupted one.
/// </remarks>
public sealed class LoraTrainer
{
    private readonly TrainingPlan _plan;
    private readonly Action<TrainingEvent> _emit;
    private readonly TrainerOptions _options;

    public LoraTrainer(TrainingPlan plan, Action<TrainingEvent>? onEvent = null, TrainerOptions? options = null)
    {
        _plan = plan;
        _emit = onEvent ?? (_ => { });
        _options = options ?? new TrainerOptions();
    }

    /// <summary>Test hook: when it returns true for a (1-based) step, that step's gradient is poisoned with NaN.</summary>
    internal Func<int, bool>? InjectNonFiniteGradient { get; set; }

    /// <summary>Test hook: sees the trained model (the weights the artifact is written from) just before the artifacts are written.</summary>
    internal Action<nn.Module>? BeforeSave { get; set; }

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
        // method: freeze trains the base tensors themselves: AdamW steps on bf16 weights lose small updates, so auto keeps fp32.
        if (recipe.Method == AdapterMethod.Freeze && opts.Precision == Precision.Auto) baseDType = ScalarType.Float32;

        // --- model: base weights (shaped by the task), then LoRA around the targets ----------------
        var task = TrainingTasks.For(_plan, baseFolder);
        using var loaded = task.LoadModel(baseFolder, device, baseDType);
        var model = loaded.Module;
        // A private generator: LoRA init and dropout do not depend on what else in the process draws from torch's RNG,
        // and a checkpoint saves exactly this stream's state.
        using var generator = new Generator((ulong)opts.Seed);
        var wrapped = AdapterMethods.Inject(model, AdapterMethods.For(recipe, loaded.Config.ModelType, generator, loaded.Tokenizer), loaded.Classifier?.HeadModules);
        // The task's modules_to_save (a classifier's head) train in full, as PEFT's; none for a causal LM.
        LoraInjector.Freeze(model, task.ModulesToSave(loaded));
        // method: freeze — the last blocks and the head train in full; all that ever trains goes to the optimizer now.
        var frozen = AdapterMethods.Freeze(model, recipe, loaded.Config.ModelType, loaded.Config.NumHiddenLayers, loaded.Classifier is not null);
        var trainable = FreezeTraining.Trainable(model, frozen);
        long totalParams = TrainableParameters.CountDistinct(model);
        long trainableParams = trainable.Sum(p => p.parameter.numel());

        // --- data: read, split, encode (the task's batching: token cache and packing, or labels in memory) ----
        using var data = task.LoadData(loaded, CacheForTokens());
        foreach (string warning in data.Warnings) _emit(new RunWarning(warning));
        int batchesPerEpoch = (data.Train.Count + opts.BatchSize - 1) / opts.BatchSize;
        int stepsPerEpoch = (batchesPerEpoch + opts.GradientAccumulation - 1) / opts.GradientAccumulation;
        int totalSteps = opts.MaxSteps ?? stepsPerEpoch * opts.Epochs;
        int epochs = opts.MaxSteps is { } max ? (max + stepsPerEpoch - 1) / stepsPerEpoch : opts.Epochs;
        if (frozen is not null) frozen.StepsPerEpoch = stepsPerEpoch;
        var schedule = new LearningRateSchedule(opts.Scheduler, opts.LearningRate, LearningRateSchedule.WarmupFor(opts.WarmupRatio, totalSteps), totalSteps);
        _emit(new RunStarted(recipe.Name, device.ToString(), threads, trainableParams, totalParams, wrapped.Keys.ToList(),
            data.Train.Count, data.Validation.Count, totalSteps, epochs, _plan.Fingerprint));

        // --- start: from the newest checkpoint, or evaluate the untrained adapter (step 0) -------------
        using var optimizer = new AdamW(trainable, opts.WeightDecay);
        var step = new TrainingStep(task.Loss, model, optimizer, TrainingTasks.PadId(loaded), device, opts.MaxGradNorm) { InjectNonFiniteGradient = InjectNonFiniteGradient };
        var store = new CheckpointStore(_plan.OutputDirectory, _options.KeepCheckpoints);
        // evaluation.early_stopping / keep: best: each evaluation is judged as it is logged; the best one's weights are copied.
        var judging = recipe.Evaluation;
        var judge = judging.EarlyStopping.Enabled || judging.Keep == KeepWeights.Best ? new EarlyStopping(judging.EarlyStopping) : null;
        using var best = judging.Keep == KeepWeights.Best ? new BestWeights() : null;
        var p = (_options.Resume ? TryResume(store, trainable, optimizer, generator, totalSteps, judge, best) : null) ?? new TrainingProgress();
        // Evaluation events go to metrics.jsonl (through the checkpointed log) and to the front end, as they are made.
        void Log(TrainingEvent e)
        {
            p.Logged.Add(e);
            _emit(e);
            if (judge?.ValueIn(e) is { } value && judge.Observe(EvaluationStep(e), value)) best?.Capture(trainable);
        }
        bool stopped = false;
        bool StopEarly()
        {
            if (judge is not { ShouldStop: true } || stopped) return stopped;
            var last = p.Logged.Last(e => judge.ValueIn(e) is not null);
            _emit(new EarlyStopped(p.Step, totalSteps, EarlyStopping.MetricName(judge.Metric), judge.ValueIn(last)!.Value, judge.BestValue!.Value, judge.BestStep!.Value,
                judge.Patience!.Value, judge.MinDelta));
            return stopped = true;
        }
        double? Evaluate(int at, bool samples = false) => task.Evaluate(loaded, data, device, at, samples, Log);
        if (p.ResumedFrom is null)
        {
            if (store.List().Count > 0)
                _emit(new RunWarning($"{store.Folder} holds checkpoints of an earlier run; they are replaced at this run's first checkpoint (use --resume to continue it instead)."));
            p.InitialValidationLoss = p.LastValidationLoss = Evaluate(0);
        }

        void Checkpoint(int epoch, int batchIndex)
        {
            if (p.LastCheckpointStep == p.Step && p.Epoch == epoch && p.BatchIndex == batchIndex) return;
            (p.Epoch, p.BatchIndex) = (epoch, batchIndex);
            var (state, tensors) = TrainingSnapshot.Capture(p, epoch, batchIndex, _plan.Fingerprint, recipe.Name, trainable, optimizer, generator, judge, best);
            try
            {
                p.LastCheckpoint = store.Save(state, tensors);
            }
            catch (Exception ex) when (ResourceFaults.IsWriteFailure(ex))
            {
                throw new TrainingException($"could not write the checkpoint of step {p.Step} to {store.Folder}: {ResourceFaults.DescribeWriteFailure(ex)} " +
                    $"{LastGood(p)} Free disk space, then continue with --resume.", FailureKind.TrainingFailed, ex);
            }
            p.LastCheckpointStep = p.Step;
            _emit(new CheckpointSaved(p.Step, p.LastCheckpoint));
        }

        // --- train: one update per gradient_accumulation micro-batches --------------------------------
        model.train();
        var (startEpoch, startBatch) = (p.Epoch, p.BatchIndex);
        try
        {
            for (int epoch = startEpoch; epoch < epochs && p.Step < totalSteps && !stopped; epoch++)
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
                    var window = batches.Skip(b).Take(opts.GradientAccumulation).Select(ix => (IReadOnlyList<TokenizedExample>)ix.Select(i => data.Train[i]).ToList()).ToList();
                    var timer = Stopwatch.StartNew();
                    // freeze: which blocks take gradients is a function of the step alone, so a resumed run sees the same.
                    frozen?.Apply(p.Step + 1);
                    double lr = schedule.At(p.Step);
                    var result = step.Run(window, lr, p.Step + 1);
                    p.Step++;
                    if (result.IsFinite) p.ConsecutiveSkipped = 0;
                    timer.Stop();
                    p.TrainSeconds += timer.Elapsed.TotalSeconds;
                    p.TokensSeen += result.Tokens;
                    if (!result.IsFinite)
                    {
                        SkipOrStop(p, result.Loss, result.GradNorm);
                        continue;
                    }
                    p.LastTrainLoss = result.Loss;
                    Log(new StepCompleted(p.Step, totalSteps, epoch + (double)(b + window.Count) / batches.Count, result.Loss, lr, result.GradNorm, p.TokensPerSecond, p.TokensSeen));
                    if (recipe.Evaluation.EverySteps is { } every && p.Step % every == 0 && p.Step < totalSteps)
                        p.LastValidationLoss = Evaluate(p.Step) ?? p.LastValidationLoss;
                    if (StopEarly()) break;
                    // The epoch's last step is saved by the epoch-end checkpoint below, after the epoch's evaluation.
                    if (p.Step % opts.CheckpointEvery == 0 && b + opts.GradientAccumulation < batches.Count && p.Step < totalSteps)
                        Checkpoint(epoch, b + opts.GradientAccumulation);
                }
                if (recipe.Evaluation.Schedule == EvaluationSchedule.Epoch && p.Step < totalSteps)
                    p.LastValidationLoss = Evaluate(p.Step) ?? p.LastValidationLoss;
                if (StopEarly()) break;
                Checkpoint(epoch + 1, 0);
            }
            if (!recipe.Evaluation.Never && !stopped)
                p.LastValidationLoss = Evaluate(p.Step, samples: true) ?? p.LastValidationLoss;
        }
        catch (Exception ex) when (ResourceFaults.IsOutOfMemory(ex))
        {
            throw ResourceFaults.OutOfMemory(ex, recipe, device.ToString(), p.Step, p.LastCheckpoint);
        }

        // --- save: adapter, manifest, metrics, resolved recipe ---------------------------------------
        var summary = task.Summarize(new TrainingSummary(p.Step, p.InitialValidationLoss, p.LastValidationLoss, p.LastTrainLoss,
            wall.Elapsed.TotalSeconds, p.TokensPerSecond, p.TokensSeen, Process.GetCurrentProcess().PeakWorkingSet64, p.SkippedSteps, p.ResumedFrom), p.Logged);
        var environment = new RunEnvironment(device.ToString(), threads, DeviceSelection.PrecisionName(baseDType));
        // keep: best — the adapter (and head) as they were at the best evaluation.
        if (best is { Tensors.Count: > 0 }) best.CopyInto(trainable);
        var stopping = judge is null ? null : StoppingNote(judge, stopped, p.Step, recipe.Evaluation.Keep);
        BeforeSave?.Invoke(model);
        try
        {
            if (frozen is not null) ArtifactWriter.WriteFreeze(_plan, frozen, loaded, new MetricsLog(p.Logged), summary, environment, stopping);
            else ArtifactWriter.Write(_plan, wrapped, loaded, new MetricsLog(p.Logged), summary, environment, stopping);
        }
        catch (Exception ex) when (ResourceFaults.IsWriteFailure(ex))
        {
            throw new TrainingException($"could not write the artifacts to {_plan.OutputDirectory}: {ResourceFaults.DescribeWriteFailure(ex)} Files already there are untouched. " +
                $"{LastGood(p)} Free disk space, then run again with --resume.", FailureKind.TrainingFailed, ex);
        }
        _emit(new RunCompleted(_plan.OutputDirectory, summary));
        return summary;
    }

    /// <summary>Continues from the newest checkpoint, or returns null (with a warning) when there is none.</summary>
    private TrainingProgress? TryResume(CheckpointStore store, IReadOnlyList<(string Name, Parameter Param)> trainable, AdamW optimizer, Generator generator, int totalSteps,
        EarlyStopping? judge, BestWeights? best)
    {
        (string Folder, CheckpointState State)? latest;
        try
        {
            latest = store.Latest();
        }
        catch (CheckpointException ex)
        {
            throw new TrainingException(ex.Message + " Delete that folder to resume from an older checkpoint, or run without --resume.", FailureKind.InvalidInput, ex);
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
                "(the result will match neither run exactly).", FailureKind.InvalidInput);
        try
        {
            var p = TrainingSnapshot.Restore(folder, state, trainable, optimizer, generator, judge, best);
            store.Adopt();
            _emit(new RunResumed(p.Step, totalSteps, folder, differs));
            return p;
        }
        catch (Exception ex) when (ex is CheckpointException or IO.SafetensorsFormatException or FormatException)
        {
            throw new TrainingException($"cannot resume from {folder}: {ex.Message}", FailureKind.InvalidInput, ex);
        }
    }

    /// <summary>A non-finite loss or gradient: stop (default) or, under <c>on_nan: skip_step</c>, drop the update and go on.</summary>
    private void SkipOrStop(TrainingProgress p, double loss, double gradNorm)
    {
        string what = !double.IsFinite(loss) ? $"the training loss is {loss}" : $"the gradient norm is {gradNorm}";
        string cure = "Lower training.learning_rate or check the data" +
                      (_plan.Recipe.Training.OnNan == NanPolicy.Stop ? ", or set training.on_nan: skip_step to drop such steps." : ".");
        if (_plan.Recipe.Training.OnNan == NanPolicy.Stop)
            throw new TrainingException($"step {p.Step}: {what}; stopping before it reaches the weights. {LastGood(p)} {cure}", FailureKind.TrainingFailed);
        p.SkippedSteps++;
        p.ConsecutiveSkipped++;
        _emit(new StepSkipped(p.Step, what, p.ConsecutiveSkipped, p.SkippedSteps));
        if (p.ConsecutiveSkipped >= _options.MaxConsecutiveSkippedSteps)
            throw new TrainingException($"step {p.Step}: {p.ConsecutiveSkipped} steps in a row had a non-finite loss or gradient (on_nan: skip_step); stopping. {LastGood(p)} {cure}",
                FailureKind.TrainingFailed);
    }

    /// <summary>The step of an evaluation event.</summary>
    private static int EvaluationStep(TrainingEvent e) => e switch
    {
        EvaluationCompleted c => c.Step,
        ClassificationEvaluated c => c.Step,
        _ => throw new ArgumentException($"not an evaluation: {e.GetType().Name}", nameof(e)),
    };

    /// <summary>The manifest's <c>stopping</c>: why the run ended and which evaluation's weights were kept.</summary>
    private static ManifestStopping StoppingNote(EarlyStopping judge, bool stopped, int step, KeepWeights keep) => new()
    {
        Reason = stopped ? "early_stopping" : "completed",
        StoppedAtStep = step,
        Metric = EarlyStopping.MetricName(judge.Metric),
        Mode = judge.LowerIsBetter ? "min" : "max",
        Patience = judge.Patience,
        MinDelta = judge.MinDelta,
        BestStep = judge.BestStep,
        BestValue = judge.BestValue,
        Keep = keep == KeepWeights.Best ? "best" : "last",
        KeptStep = keep == KeepWeights.Best && judge.BestStep is { } b ? b : step,
    };

    private static string LastGood(TrainingProgress p) => p.LastCheckpoint is { } c
        ? $"The last good checkpoint is {c} (step {p.LastCheckpointStep})."
        : "No checkpoint had been written yet (training.checkpoint_every); nothing was saved.";

    /// <summary>The token cache of <see cref="TrainerOptions"/>; null when caching is off.</summary>
    private TokenCache? CacheForTokens() => _options.CacheTokens
        ? new TokenCache(_options.TokenCacheDirectory ?? Path.Combine(Native.LibTorchLoader.CacheDirectory(), "tokens"))
        : null;
}
