using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Training;
using AdamW = LoraRecipes.Training.AdamW;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Training;

/// <summary>
/// <c>method: freeze</c> on builtin:tiny-llama (4 blocks, hidden 256, untied head): gradients reach only the chosen blocks,
/// the schedule unfreezes at hand-computed steps, a late block joins AdamW as if added then, resume across a boundary gives
/// the same bytes, the delta reloads to the trained model and merges into an HF folder that computes the same.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class FreezeTrainingTests : IDisposable
{
    private readonly TrainingFixture _fixture = new();
    private readonly string _recipe;

    public FreezeTrainingTests() => _recipe = _fixture.Recipe(maxSteps: 5);

    public void Dispose() => _fixture.Dispose();

    private static FreezeSettings Settings(int layers, string[]? modules = null, int? every = null, int? max = null, UnfreezeUnit unit = UnfreezeUnit.Steps, bool head = true) =>
        FreezeSettings.Resolve(new FreezeOptions
        {
            TrainableLayers = layers, Modules = modules ?? [FreezeOptions.AllModules], TrainHead = head, UnfreezeEvery = every, UnfreezeUnit = unit, MaxLayers = max,
        }, "llama", 4, classifier: false);

    [Fact]
    public void OnlyTheChosenBlocksTakeGradientsAndChange()
    {
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder("builtin:tiny-llama"));
        LoraInjector.Freeze(model.Module);
        var frozen = FrozenBlocks.Select(model.Module, Settings(1, ["mlp"], head: false));
        frozen.Apply(1);
        var all = model.Module.named_parameters().ToList();
        var before = all.ToDictionary(p => p.name, p => p.parameter.detach().clone());
        // The independent expectation: exactly the parameters whose HF name is under model.layers.3.mlp.
        var expected = all.Where(p => p.name.StartsWith("model.layers.3.mlp.", StringComparison.Ordinal)).Select(p => p.name).ToHashSet();
        Assert.Equal(3, expected.Count);   // gate, up, down
        Assert.Equal(expected, all.Where(p => p.parameter.requires_grad).Select(p => p.name).ToHashSet());

        using var optimizer = new AdamW(frozen.Candidates.Select(c => (c.Name, c.Param)), weightDecay: 0.01);
        using var ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29 }).unsqueeze(0);
        for (int step = 0; step < 2; step++)
        {
            using (var loss = model.Module.forward(ids).square().mean()) loss.backward();
            foreach (var (name, p) in all)
            {
                if (expected.Contains(name)) Assert.True(p.grad is { } g && g.abs().sum().item<float>() > 0, $"{name}: no gradient");
                else Assert.True(p.grad is null, $"{name}: frozen but has a gradient");
            }
            optimizer.Step(1e-2);
            optimizer.ZeroGrad();
        }
        foreach (var (name, p) in all)
        {
            bool same = p.detach().equal(before[name]).all().item<bool>();
            Assert.True(expected.Contains(name) ? !same : same, $"{name}: {(same ? "unchanged" : "changed")}");
        }
    }

    [Fact]
    public void TheScheduleAddsTheNextBlockDownAtTheExactStep()
    {
        // trainable_layers 1, one more every 2 steps, at most 3: steps 1-2 {3}; 3-4 {2,3}; 5 onwards {1,2,3}.
        var steps = Settings(1, every: 2, max: 3);
        int[] expected = [1, 1, 2, 2, 3, 3, 3, 3];
        Assert.Equal(expected, Enumerable.Range(1, 8).Select(s => steps.ActiveAt(s, stepsPerEpoch: 100)).ToArray());
        Assert.Equal([3, 5], new[] { steps.JoinStep(2, 100), steps.JoinStep(3, 100) });
        // Epochs of 3 steps, one more every epoch: steps 1-3 one block, 4-6 two, 7+ three (max 3).
        var epochs = Settings(1, every: 1, max: 3, unit: UnfreezeUnit.Epochs);
        Assert.Equal([1, 1, 1, 2, 2, 2, 3, 3], Enumerable.Range(1, 8).Select(s => epochs.ActiveAt(s, stepsPerEpoch: 3)).ToArray());
        Assert.Equal(4, epochs.JoinStep(2, 3));

        // End to end: 5 steps of 3 per epoch. Step 5 is block 1's first update, so with 4 steps it is not in the delta.
        string[] schedule = ["method=freeze", "freeze.trainable_layers=1", "freeze.train_head=false", "freeze.unfreeze_schedule.every=2", "freeze.unfreeze_schedule.max_layers=3"];
        var four = _fixture.Plan(_recipe, [.. schedule, "training.max_steps=4", "output.dir=out/four"]);
        new LoraTrainer(four).Run();
        Assert.Equal(["model.layers.2.", "model.layers.3."], BlocksIn(four));
        var five = _fixture.Plan(_recipe, [.. schedule, "output.dir=out/five"]);
        new LoraTrainer(five).Run();
        Assert.Equal(["model.layers.1.", "model.layers.2.", "model.layers.3."], BlocksIn(five));
        var note = LoraManifest.Read(Path.Combine(five.OutputDirectory, ArtifactFiles.Manifest)).Adapter!.Method!.Freeze!;
        Assert.Equal([1, 2, 3], note.FinalBlocks);
        Assert.Equal(new Dictionary<string, int> { ["3"] = 1, ["2"] = 3, ["1"] = 5 }, note.UnfrozenAtStep);

        // Block 1 took exactly one AdamW update, its first (t = 1, zero moments): each entry moved by lr·g/(|g|+ε) ≈ lr
        // (1-D norm weight: no decay). The lr at step 5 of 5 (linear, no warm-up, peak 1e-2) is 1e-2 · 1/5.
        using var baseModel = ModelLoader.Load(ModelLoader.ResolveFolder("builtin:tiny-llama"));
        using var weights = SafetensorsFile.Open(Path.Combine(five.OutputDirectory, ArtifactFiles.AdapterWeights));
        using var trained = weights.ReadTensor("model.layers.1.input_layernorm.weight");
        var original = baseModel.Module.named_parameters().First(p => p.name == "model.layers.1.input_layernorm.weight").parameter;
        using var moved = (trained - original).abs();
        Assert.True(moved.max().item<float>() <= 2e-3f * 1.0001f, $"moved {moved.max().item<float>()}");
        Assert.True(moved.max().item<float>() > 1e-3f, $"moved {moved.max().item<float>()}: block 1 did not train at step 5");
    }

    [Fact]
    public void AParameterWithoutGradientJoinsAdamWAsIfAddedThen()
    {
        using var early = new Parameter(tensor(new float[] { 1f, -2f }));
        using var late = new Parameter(tensor(new float[] { 0.5f, 3f }));
        using var optimizer = new AdamW(new[] { ("early", early), ("late", late) }, weightDecay: 0.1);
        late.requires_grad = false;
        for (int i = 0; i < 3; i++)
        {
            early.grad = tensor(new float[] { 0.3f, -0.1f });
            optimizer.Step(0.1);
            optimizer.ZeroGrad();
        }
        Assert.Equal([0.5f, 3f], late.data<float>().ToArray());   // untouched: no decay, no update
        late.requires_grad = true;
        early.grad = tensor(new float[] { 0.3f, -0.1f });
        late.grad = tensor(new float[] { 0.2f, -0.4f });
        optimizer.Step(0.1);
        // Its first step (t = 1): m̂ = g, v̂ = g², p ← p − lr·g/(|g| + ε); 1-D, so no decay.
        Assert.Equal(1, optimizer.StepsOf("late"));
        Assert.Equal(4, optimizer.StepsOf("early"));
        var got = late.data<float>().ToArray();
        Assert.Equal(0.5 - 0.1 * 0.2 / (0.2 + 1e-8), got[0], 6);
        Assert.Equal(3.0 + 0.1 * 0.4 / (0.4 + 1e-8), got[1], 6);
        // Its own t is saved beside the moments (only where it is not the optimizer's).
        Assert.Equal(["early.exp_avg", "early.exp_avg_sq", "late.exp_avg", "late.exp_avg_sq", "late.step"], optimizer.StateTensors().Select(s => s.Key).Order().ToArray());
    }

    [Fact]
    public void InterruptedAcrossAnUnfreezeBoundaryThenResumedGivesTheSameBytes()
    {
        // Block 2 joins at step 3 and block 1 at step 5; the run stops after step 3 and resumes from that checkpoint.
        string[] settings = ["method=freeze", "freeze.trainable_layers=1", "freeze.unfreeze_schedule.every=2", "freeze.unfreeze_schedule.max_layers=3",
            "training.checkpoint_every=2"];
        var plan = _fixture.AssertResumeIsBitIdentical(_recipe, "freeze", settings);
        Assert.Equal(["model.layers.1.", "model.layers.2.", "model.layers.3."], BlocksIn(plan));
    }

    [Fact]
    public void TheDeltaReloadsToTheTrainedModelAndMergesToTheSameFunction()
    {
        var plan = _fixture.Plan(_recipe, "method=freeze", "freeze.trainable_layers=2", "output.dir=out/freeze");
        using var ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29 }).unsqueeze(0);
        Tensor? inMemory = null;
        var trainer = new LoraTrainer(plan) { BeforeSave = m => { m.eval(); using (no_grad()) inMemory = ((nn.Module<Tensor, Tensor>)m).forward(ids).detach().clone(); } };
        var summary = trainer.Run();
        Assert.True(summary.FinalValidationLoss < summary.InitialValidationLoss, $"{summary.InitialValidationLoss} → {summary.FinalValidationLoss}");
        using var expected = inMemory!;

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig)))!;
        Assert.Equal("FREEZE", (string?)config["peft_type"]);
        Assert.Equal("[2,3]", config["layers_to_transform"]!.ToJsonString());
        // The delta: blocks 2 and 3 in full and lm_head, under the base checkpoint's names, nothing else.
        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        using var plain = ModelLoader.Load(folder);
        var wanted = plain.Module.named_parameters().Select(p => p.name)
            .Where(n => n.StartsWith("model.layers.2.", StringComparison.Ordinal) || n.StartsWith("model.layers.3.", StringComparison.Ordinal) || n == "lm_head.weight").Order().ToArray();
        using (var weights = SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights)))
        {
            Assert.Equal(wanted, weights.Tensors.Select(t => t.Name).Order().ToArray());
            var manifest = LoraManifest.Read(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest));
            Assert.Equal(manifest.Adapter!.TrainableParameters, weights.Tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)));
        }

        var (runtime, layers) = AdapterFolder.Open(plan.OutputDirectory).Load();
        using (runtime)
        {
            Assert.Empty(layers);
            runtime.Module.eval();
            using var loaded = WithNoGrad(() => runtime.Module.forward(ids));
            Assert.True(loaded.equal(expected).all().item<bool>(), "reloaded ≠ in-memory");
            plain.Module.eval();
            using var before = WithNoGrad(() => plain.Module.forward(ids));
            Assert.False(loaded.allclose(before, 1e-4, 1e-4));

            string merged = Path.Combine(_fixture.Directory, "merged");
            MergedCheckpointWriter.Write(AdapterFolder.Open(plan.OutputDirectory), null, merged);
            using var mergedModel = ModelLoader.Load(merged);
            mergedModel.Module.eval();
            using var fromMerged = WithNoGrad(() => mergedModel.Module.forward(ids));
            Assert.True(fromMerged.allclose(loaded, 1e-5, 1e-5), $"max |merged − runtime| = {(fromMerged - loaded).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void PlanCountsBlocksAndHeadAtStartAndEnd()
    {
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder("builtin:tiny-llama"));
        long Under(params string[] prefixes) => model.Module.named_parameters().Where(p => prefixes.Any(x => p.name.StartsWith(x, StringComparison.Ordinal))).Sum(p => p.parameter.numel());
        long all = model.Module.parameters().Sum(p => p.numel());

        var counts = TrainableParameters.For(_fixture.Plan(_recipe, "method=freeze", "freeze.unfreeze_schedule.every=10"));
        Assert.Equal(Under("model.layers.2.", "model.layers.3.", "lm_head."), counts.Trainable);
        Assert.Equal(all, counts.All);
        Assert.Equal(Under("model.layers.", "lm_head."), counts.Freeze!.FinalParameters);
        Assert.Equal(20, counts.Freeze.FinalJoinsAfter);   // 2 more blocks, one every 10 steps
        Assert.StartsWith($"trainable params: {Under("model.layers.", "lm_head."):N0} || all params: {all:N0}", counts.PeftLineAtEnd);

        var tooMany = Assert.Throws<LoraTargetException>(() => TrainableParameters.For(_fixture.Plan(_recipe, "method=freeze", "freeze.trainable_layers=9")));
        Assert.Contains("has 4 transformer blocks", tooMany.Message);
        var unknown = Assert.Throws<LoraTargetException>(() => TrainableParameters.For(_fixture.Plan(_recipe, "method=freeze", "freeze.modules=[ffn]")));
        Assert.Contains("self_attn", unknown.Message);
    }

    private static Tensor WithNoGrad(Func<Tensor> f)
    {
        using var guard = no_grad();
        return f();
    }

    /// <summary>The distinct block prefixes among the delta's tensor names.</summary>
    private static string[] BlocksIn(TrainingPlan plan)
    {
        using var weights = SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights));
        return weights.Tensors.Select(t => t.Name).Where(n => n.StartsWith("model.layers.", StringComparison.Ordinal))
            .Select(n => string.Join('.', n.Split('.').Take(3)) + ".").Distinct().Order().ToArray();
    }
}
