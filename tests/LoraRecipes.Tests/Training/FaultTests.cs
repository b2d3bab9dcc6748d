using System.Text.Json.Nodes;
using LoraRecipes.Training;
using LoraRecipes.Training.Checkpoints;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Training;

/// <summary>Numerical and resource faults end in a clear, typed error (or a counted skip), never in a corrupted artifact.</summary>
public sealed class FaultTests : IDisposable
{
    private readonly TrainingFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void ANanGradientStopsNamingTheStepAndKeepsTheLastGoodCheckpoint()
    {
        var plan = _fixture.Plan(_fixture.Recipe(maxSteps: 8), "training.checkpoint_every=2");
        var trainer = new LoraTrainer(plan) { InjectNonFiniteGradient = step => step == 5 };
        var ex = Assert.Throws<TrainingException>(() => trainer.Run());
        Assert.Equal(FailureKind.TrainingFailed, ex.Kind);
        Assert.StartsWith("step 5: the gradient norm is NaN", ex.Message);
        Assert.Contains("on_nan: skip_step", ex.Message);
        // Steps 1–4 were good: the epoch-end checkpoint of step 3 and the one of step 4 are kept and named.
        var store = new CheckpointStore(plan.OutputDirectory);
        Assert.Equal(new[] { 4, 3 }, store.List().Select(CheckpointStore.StepOf));
        Assert.Contains("step-00000004", ex.Message);
        Assert.False(File.Exists(Path.Combine(plan.OutputDirectory, "adapter_model.safetensors")));

        // The kept state is usable: resuming (the fault gone) finishes the run.
        new LoraTrainer(plan, options: new TrainerOptions { Resume = true }).Run();
        Assert.True(File.Exists(Path.Combine(plan.OutputDirectory, "adapter_model.safetensors")));
    }

    [Fact]
    public void SkipStepDropsTheBadUpdateCountsItAndFinishes()
    {
        var plan = _fixture.Plan(_fixture.Recipe(maxSteps: 6), "training.on_nan=skip_step");
        var events = new List<TrainingEvent>();
        var summary = new LoraTrainer(plan, events.Add) { InjectNonFiniteGradient = step => step == 3 }.Run();
        var skipped = Assert.Single(events.OfType<StepSkipped>());
        Assert.Equal((3, 1, 1), (skipped.Step, skipped.ConsecutiveSkipped, skipped.TotalSkipped));
        Assert.Equal(1, summary.SkippedSteps);
        Assert.Equal(new[] { 1, 2, 4, 5, 6 }, events.OfType<StepCompleted>().Select(s => s.Step));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, "lora-manifest.json")))!;
        Assert.Equal(1, (int)manifest["skipped_steps"]!);
        Assert.DoesNotContain("NaN", File.ReadAllText(Path.Combine(plan.OutputDirectory, "metrics.jsonl")));
    }

    [Fact]
    public void SkipStepGivesUpAfterTooManyInARow()
    {
        var plan = _fixture.Plan(_fixture.Recipe(maxSteps: 20), "training.on_nan=skip_step");
        var trainer = new LoraTrainer(plan, options: new TrainerOptions { MaxConsecutiveSkippedSteps = 3 }) { InjectNonFiniteGradient = step => step >= 2 };
        var ex = Assert.Throws<TrainingException>(() => trainer.Run());
        Assert.Equal(FailureKind.TrainingFailed, ex.Kind);
        Assert.StartsWith("step 4: 3 steps in a row", ex.Message);
    }

    [Fact]
    public void LibTorchAllocationFailuresAreRecognisedAndExplained()
    {
        // A real libtorch failure: 2^50 floats (4 PiB) cannot be allocated anywhere.
        var ex = Assert.ThrowsAny<Exception>(() => empty(1L << 50, dtype: ScalarType.Float32));
        Assert.True(ResourceFaults.IsOutOfMemory(ex), ex.Message);
        Assert.False(ResourceFaults.IsOutOfMemory(new InvalidOperationException("shape mismatch")));

        var recipe = _fixture.Plan(_fixture.Recipe()).Recipe;
        var error = ResourceFaults.OutOfMemory(ex, recipe, "cpu", step: 4, checkpoint: "/x/checkpoints/step-00000004");
        Assert.Equal(FailureKind.TrainingFailed, error.Kind);
        Assert.Contains("at step 5 with training.batch_size = 6, data.max_length = 160", error.Message);
        Assert.Contains("--set training.batch_size=3 --set training.gradient_accumulation=2", error.Message);
        Assert.Contains("step-00000004", error.Message);
        Assert.DoesNotContain("\n", error.Message);
    }

    [Fact]
    public void AnUnwritableCheckpointFolderFailsClearlyAndLeavesNoArtifact()
    {
        var plan = _fixture.Plan(_fixture.Recipe(maxSteps: 4), "training.checkpoint_every=2");
        Directory.CreateDirectory(plan.OutputDirectory);
        File.WriteAllText(Path.Combine(plan.OutputDirectory, CheckpointStore.FolderName), "a file where the folder should be");
        var ex = Assert.Throws<TrainingException>(() => new LoraTrainer(plan).Run());
        Assert.Equal(FailureKind.TrainingFailed, ex.Kind);
        Assert.StartsWith("could not write the checkpoint of step 2", ex.Message);
        Assert.False(File.Exists(Path.Combine(plan.OutputDirectory, "adapter_model.safetensors")));
    }
}
