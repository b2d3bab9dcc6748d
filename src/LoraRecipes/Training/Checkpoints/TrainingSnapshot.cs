using LoraRecipes.IO;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Training.Checkpoints;

/// <summary>Captures a run's resumable state into a checkpoint and puts it back.</summary>
internal static class TrainingSnapshot
{
    /// <summary>The state at a step boundary: next micro-batch (<paramref name="epoch"/>, <paramref name="batchIndex"/>).</summary>
    public static (CheckpointState State, Dictionary<string, Tensor> Tensors) Capture(TrainingProgress p, int epoch, int batchIndex,
        string fingerprint, string name, IReadOnlyList<(string Name, Parameter Param)> trainable, AdamW optimizer, Generator rng,
        EarlyStopping? judge = null, BestWeights? best = null)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, param) in trainable) tensors[n] = param.detach();
        foreach (var (n, t) in optimizer.StateTensors()) tensors[CheckpointStore.OptimizerPrefix + n] = t;
        if (best is not null) foreach (var (n, t) in best.Tensors) tensors[BestWeights.Prefix + n] = t;
        var state = new CheckpointState
        {
            Fingerprint = fingerprint,
            Name = name,
            Step = p.Step,
            Epoch = epoch,
            BatchIndex = batchIndex,
            OptimizerSteps = optimizer.StepCount,
            SkippedSteps = p.SkippedSteps,
            ConsecutiveSkippedSteps = p.ConsecutiveSkipped,
            TokensSeen = p.TokensSeen,
            TrainSeconds = p.TrainSeconds,
            InitialValidationLoss = p.InitialValidationLoss,
            LastValidationLoss = p.LastValidationLoss,
            LastTrainLoss = p.LastTrainLoss,
            TorchRngState = Convert.ToBase64String(RngState.Get(rng)),
            ResumedFrom = p.ResumedFrom,
            Metrics = MetricsJson.ToJson(p.Logged),
            EarlyStopping = judge is null ? null : new EarlyStoppingState(judge.BestValue, judge.BestStep, judge.WithoutImprovement),
        };
        return (state, tensors);
    }

    /// <summary>Loads weights, moments and RNG from <paramref name="folder"/> into the run; returns the progress to continue from.</summary>
    /// <exception cref="CheckpointException">A tensor is missing or has another shape than the model's (the LoRA settings changed).</exception>
    public static TrainingProgress Restore(string folder, CheckpointState state, IReadOnlyList<(string Name, Parameter Param)> trainable, AdamW optimizer, Generator rng,
        EarlyStopping? judge = null, BestWeights? best = null)
    {
        string path = Path.Combine(folder, CheckpointStore.TensorsFile);
        using (var file = SafetensorsFile.Open(path))
        using (var guard = no_grad())
        {
            Tensor Read(string n, Tensor like)
            {
                if (!file.Contains(n)) throw new CheckpointException($"{path}: no tensor '{n}' (the checkpoint is for other LoRA targets)");
                var t = file.ReadTensor(n);
                if (!t.shape.SequenceEqual(like.shape))
                    throw new CheckpointException($"{path}: '{n}' has shape [{string.Join(", ", t.shape)}] but the model's is [{string.Join(", ", like.shape)}] (lora.r or the targets changed)");
                return t;
            }
            foreach (var (n, param) in trainable)
            {
                using var t = Read(n, param);
                param.copy_(t);
            }
            var moments = trainable.ToDictionary(t => t.Name, t => (Tensor)t.Param, StringComparer.Ordinal);
            long? OwnStep(string n)
            {
                if (!file.Contains(CheckpointStore.OptimizerPrefix + n)) return null;
                using var t = file.ReadTensor(CheckpointStore.OptimizerPrefix + n);
                return t.to(ScalarType.Int64).item<long>();
            }
            optimizer.LoadState(n => Read(CheckpointStore.OptimizerPrefix + n, moments[n[..n.LastIndexOf(".exp_avg", StringComparison.Ordinal)]]), state.OptimizerSteps, OwnStep);
            if (judge is not null)
            {
                if (state.EarlyStopping is not { } es)
                    throw new CheckpointException($"{folder}: the checkpoint has no early-stopping state (it was written without evaluation.early_stopping / keep: best)");
                judge.Restore(es.BestValue, es.BestStep, es.EvaluationsWithoutImprovement);
                // The best weights exist once an evaluation was judged best (a classifier's step 0 at the latest).
                if (best is not null && es.BestStep is not null)
                    foreach (var (n, param) in trainable) best.Set(n, Read(BestWeights.Prefix + n, param));
            }
        }
        RngState.Set(rng, Convert.FromBase64String(state.TorchRngState));
        var p = new TrainingProgress
        {
            Step = state.Step,
            Epoch = state.Epoch,
            BatchIndex = state.BatchIndex,
            TokensSeen = state.TokensSeen,
            TrainSeconds = state.TrainSeconds,
            InitialValidationLoss = state.InitialValidationLoss,
            LastValidationLoss = state.LastValidationLoss,
            LastTrainLoss = state.LastTrainLoss,
            SkippedSteps = state.SkippedSteps,
            ConsecutiveSkipped = state.ConsecutiveSkippedSteps,
            ResumedFrom = state.Step,
            LastCheckpointStep = state.Step,
            LastCheckpoint = folder,
        };
        foreach (var e in MetricsJson.FromJson(state.Metrics)) p.Logged.Add(e);
        return p;
    }
}

/// <summary>The run's torch generator (LoRA init and dropout draw from it) as bytes.</summary>
internal static class RngState
{
    public static byte[] Get(Generator rng)
    {
        using var state = rng.get_state();
        return state.data<byte>().ToArray();
    }

    public static void Set(Generator rng, byte[] bytes)
    {
        using var state = TorchSharp.torch.tensor(bytes, ScalarType.Byte);
        rng.set_state(state);
    }
}
