using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using LoraRecipes.Training.Checkpoints;

namespace LoraRecipes.Tests.Training;

/// <summary>Checkpoint → resume must equal an uninterrupted run, bit for bit (CPU), across epoch boundaries and with dropout on.</summary>
[Collection(GlobalRngCollection.Name)]
public sealed class CheckpointResumeTests : IDisposable
{
    // 18 train examples / batch 6 = 3 steps an epoch: 8 steps cross two epoch ends; dropout makes the RNG state matter.
    private static readonly string[] Settings = ["training.max_steps=8", "training.checkpoint_every=3", "lora.dropout=0.1", "training.warmup_ratio=0.1"];
    private readonly TrainingFixture _fixture = new();
    private readonly string _recipe;

    public CheckpointResumeTests() => _recipe = _fixture.Recipe();

    public void Dispose() => _fixture.Dispose();

    private TrainingPlan Plan(string output, params string[] more) => _fixture.Plan(_recipe, [.. Settings, "output.dir=" + output, .. more]);

    [Fact]
    public void InterruptedAtEveryKindOfBoundaryThenResumedGivesTheSameAdapterBytes()
    {
        var reference = Plan("out/reference");
        var referenceSummary = new LoraTrainer(reference).Run();

        // Stop after step 2 (mid-epoch, between checkpoints), then after step 6 (the last step of epoch 2), then finish.
        var plan = Plan("out/resumed");
        foreach (int stopAfter in new[] { 2, 6 })
        {
            using var stop = new CancellationTokenSource();
            var trainer = new LoraTrainer(plan, e => { if (e is StepCompleted s && s.Step == stopAfter) stop.Cancel(); }, new TrainerOptions { Resume = true });
            var ex = Assert.Throws<TrainingInterruptedException>(() => trainer.Run(stop.Token));
            Assert.Equal(stopAfter, ex.Step);
            Assert.True(File.Exists(Path.Combine(ex.Checkpoint!, CheckpointStore.StateFile)));
            Assert.False(File.Exists(Path.Combine(plan.OutputDirectory, "adapter_model.safetensors")));
        }
        var events = new List<TrainingEvent>();
        var summary = new LoraTrainer(plan, events.Add, new TrainerOptions { Resume = true }).Run();

        Assert.Equal(6, Assert.Single(events.OfType<RunResumed>()).Step);
        Assert.Equal(Hash(reference, "adapter_model.safetensors"), Hash(plan, "adapter_model.safetensors"));
        Assert.Equal(referenceSummary.FinalValidationLoss, summary.FinalValidationLoss);
        Assert.Equal(referenceSummary.InitialValidationLoss, summary.InitialValidationLoss);
        // metrics.jsonl carries the lines logged before the interruptions: same steps and losses.
        Assert.Equal(Losses(reference), Losses(plan));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, "lora-manifest.json")))!;
        Assert.Equal(6, (int?)manifest["resumed_from"]);
        Assert.Null((int?)JsonNode.Parse(File.ReadAllText(Path.Combine(reference.OutputDirectory, "lora-manifest.json")))!["resumed_from"]);
    }

    [Fact]
    public void ResumingFromAnyKeptCheckpointGivesTheSameAdapterBytes()
    {
        var reference = Plan("out/all");
        new LoraTrainer(reference, options: new TrainerOptions { KeepCheckpoints = 100 }).Run();
        var store = new CheckpointStore(reference.OutputDirectory);
        // step 3 (epoch end), 6 (epoch end), 8 (run end); a crash after each one resumes from it.
        Assert.Equal(new[] { 8, 6, 3 }, store.List().Select(CheckpointStore.StepOf));
        foreach (string checkpoint in store.List().Skip(1))
        {
            var plan = Plan("out/from-" + CheckpointStore.StepOf(checkpoint));
            CopyDirectory(checkpoint, Path.Combine(plan.OutputDirectory, CheckpointStore.FolderName, Path.GetFileName(checkpoint)));
            new LoraTrainer(plan, options: new TrainerOptions { Resume = true }).Run();
            Assert.Equal(Hash(reference, "adapter_model.safetensors"), Hash(plan, "adapter_model.safetensors"));
        }
    }

    [Fact]
    public void ACheckpointHoldsWeightsMomentsRngAndPositionAndOnlyTheLastTwoAreKept()
    {
        var plan = Plan("out/layout", "training.checkpoint_every=1");
        new LoraTrainer(plan).Run();
        var store = new CheckpointStore(plan.OutputDirectory);
        Assert.Equal(new[] { 8, 7 }, store.List().Select(CheckpointStore.StepOf));
        Assert.Empty(Directory.GetDirectories(store.Folder, ".*"));   // no temp folder left
        var (folder, state) = store.Latest()!.Value;
        Assert.Equal(CheckpointState.CurrentFormatVersion, state.FormatVersion);
        Assert.Equal(plan.Fingerprint, state.Fingerprint);
        Assert.Equal((8, 3, 0, 8L), (state.Step, state.Epoch, state.BatchIndex, state.OptimizerSteps));
        Assert.NotEmpty(Convert.FromBase64String(state.TorchRngState));
        using var tensors = LoraRecipes.IO.SafetensorsFile.Open(Path.Combine(folder, CheckpointStore.TensorsFile));
        // 8 LoRA modules × (A, B) × (weight, exp_avg, exp_avg_sq).
        Assert.Equal(8 * 2 * 3, tensors.Tensors.Count);
        Assert.True(tensors.Contains("model.layers.0.self_attn.q_proj.lora_A.weight"));
        Assert.True(tensors.Contains("optimizer.model.layers.0.self_attn.q_proj.lora_A.weight.exp_avg_sq"));
    }

    [Fact]
    public void AResumeWithAnotherFingerprintIsRefusedNamingBothUnlessForced()
    {
        var plan = Plan("out/fp");
        Interrupt(plan, afterStep: 4);
        var changed = Plan("out/fp", "training.learning_rate=5e-3");
        var ex = Assert.Throws<TrainingException>(() => new LoraTrainer(changed, options: new TrainerOptions { Resume = true }).Run());
        Assert.Equal(FailureKind.InvalidInput, ex.Kind);
        Assert.Contains(plan.Fingerprint, ex.Message);
        Assert.Contains(changed.Fingerprint, ex.Message);
        Assert.Contains("--force", ex.Message);

        var events = new List<TrainingEvent>();
        new LoraTrainer(changed, events.Add, new TrainerOptions { Resume = true, Force = true }).Run();
        Assert.True(Assert.Single(events.OfType<RunResumed>()).FingerprintDiffers);
        Assert.True(File.Exists(Path.Combine(plan.OutputDirectory, "adapter_model.safetensors")));
    }

    [Fact]
    public void AForcedResumeIntoOtherLoraShapesFailsClearly()
    {
        var plan = Plan("out/shape");
        Interrupt(plan, afterStep: 2);
        var ex = Assert.Throws<TrainingException>(() =>
            new LoraTrainer(Plan("out/shape", "lora.r=8"), options: new TrainerOptions { Resume = true, Force = true }).Run());
        Assert.Equal(FailureKind.InvalidInput, ex.Kind);
        Assert.Contains("shape", ex.Message);
    }

    [Fact]
    public void TornAndForeignCheckpointFoldersAreHandled()
    {
        var plan = Plan("out/torn");
        Interrupt(plan, afterStep: 2);
        var store = new CheckpointStore(plan.OutputDirectory);
        // A write killed half-way (temp folder) and a folder without state.json are not checkpoints.
        Directory.CreateDirectory(Path.Combine(store.Folder, ".step-00000009.abcd.tmp"));
        Directory.CreateDirectory(Path.Combine(store.Folder, "step-00000009"));
        Assert.Equal(2, CheckpointStore.StepOf(store.List()[0]));

        // A damaged state.json is refused with its path, not a stack trace.
        File.WriteAllText(Path.Combine(store.List()[0], CheckpointStore.StateFile), "{\"format_version\": 1, \"step\": ");
        var ex = Assert.Throws<TrainingException>(() => new LoraTrainer(plan, options: new TrainerOptions { Resume = true }).Run());
        Assert.Contains(CheckpointStore.StateFile, ex.Message);

        // A fresh run (no --resume) warns, then replaces the earlier run's checkpoints once its own is written.
        var events = new List<TrainingEvent>();
        new LoraTrainer(plan, events.Add).Run();
        Assert.Contains(events.OfType<RunWarning>(), w => w.Message.Contains("--resume"));
        Assert.Equal(new[] { 8, 6 }, store.List().Select(CheckpointStore.StepOf));
        Assert.Empty(Directory.GetDirectories(store.Folder, ".*"));
    }

    [Fact]
    public void ResumeWithoutACheckpointStartsOverWithAWarning()
    {
        var plan = Plan("out/none", "training.max_steps=2");
        var events = new List<TrainingEvent>();
        new LoraTrainer(plan, events.Add, new TrainerOptions { Resume = true }).Run();
        Assert.Contains(events.OfType<RunWarning>(), w => w.Message.Contains("no checkpoint"));
        Assert.Empty(events.OfType<RunResumed>());
    }

    private static void Interrupt(TrainingPlan plan, int afterStep)
    {
        using var stop = new CancellationTokenSource();
        Assert.Throws<TrainingInterruptedException>(() =>
            new LoraTrainer(plan, e => { if (e is StepCompleted s && s.Step == afterStep) stop.Cancel(); }).Run(stop.Token));
    }

    private static string Hash(TrainingPlan plan, string file) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(plan.OutputDirectory, file))));

    private static List<string> Losses(TrainingPlan plan) =>
        File.ReadAllLines(Path.Combine(plan.OutputDirectory, "metrics.jsonl"))
            .Select(l => JsonNode.Parse(l)!)
            .Select(n => $"{n["type"]} {n["step"]} {n["loss"]}")
            .ToList();

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
