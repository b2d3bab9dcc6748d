using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Training;

/// <summary><c>method: bottleneck_adapter</c> on builtin:tiny-llama: trains, saves our BOTTLENECK_ADAPTER layout, reloads
/// to the saved tensors, refuses to merge, resumes bit-identically, and <c>plan</c> counts what is saved.</summary>
[Collection(GlobalRngCollection.Name)]
public sealed class BottleneckTrainingTests : IDisposable
{
    private readonly TrainingFixture _fixture = new();
    private readonly string _recipe;

    public BottleneckTrainingTests() => _recipe = _fixture.Recipe(maxSteps: 6);

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void TrainsSavesReloadsAndRefusesToMerge()
    {
        var plan = _fixture.Plan(_recipe, "method=bottleneck_adapter", "bottleneck_adapter.placement=both", "bottleneck_adapter.non_linearity=gelu",
            "output.dir=out/bottleneck", "training.learning_rate=3e-2");
        var summary = new LoraTrainer(plan).Run();
        Assert.True(summary.FinalValidationLoss < summary.InitialValidationLoss, $"{summary.InitialValidationLoss} → {summary.FinalValidationLoss}");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig)))!;
        Assert.Equal("BOTTLENECK_ADAPTER", (string?)config["peft_type"]);
        Assert.Equal(16, (int)config["bottleneck_size"]!);   // hidden 256 / 16
        Assert.Equal("gelu", (string?)config["non_linearity"]);
        Assert.Equal("both", (string?)config["placement"]);
        var manifest = LoraManifest.Read(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest));
        Assert.Equal("bottleneck_adapter", manifest.Adapter!.Method!.Name);

        string weightsPath = Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights);
        using var weights = SafetensorsFile.Open(weightsPath);
        Assert.Equal(new long[] { 16, 256 }, weights["base_model.model.model.layers.0.mlp.down_proj.adapter_down.weight"].Shape);
        Assert.Equal(new long[] { 256, 16 }, weights["base_model.model.model.layers.0.self_attn.o_proj.adapter_up.weight"].Shape);
        Assert.Equal(new long[] { 256 }, weights["base_model.model.model.layers.3.self_attn.o_proj.adapter_up.bias"].Shape);
        Assert.Equal(4 * 2 * 4, weights.Tensors.Count());   // 4 layers × 2 placements × (down, up) × (weight, bias)
        Assert.Equal(manifest.Adapter.TrainableParameters, weights.Tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)));

        // Reloaded onto a fresh base: every adapter tensor is the saved one, and the output is no longer the base's.
        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        using var reloaded = ModelLoader.Load(folder);
        using var plain = ModelLoader.Load(folder);
        var layers = AdapterLoader.Apply(reloaded.Module, plan.OutputDirectory);
        Assert.Equal(8, layers.Count);
        foreach (var (path, layer) in layers)
        {
            Assert.Equal(BottleneckLinear.Type, layer.PeftType);
            foreach (var (name, value) in layer.SavedTensors())
                using (var stored = weights.ReadTensor(AdapterKeys.ForTensor(path, name))) Assert.True(value.equal(stored).all().item<bool>(), $"{path}.{name}");
        }
        Assert.NotEqual(0f, ((BottleneckLinear)layers["model.layers.0.mlp.down_proj"]).Up.weight!.abs().max().item<float>());
        reloaded.Module.eval();
        plain.Module.eval();
        using var ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29 }).unsqueeze(0);
        using (no_grad()) Assert.False(reloaded.Module.forward(ids).allclose(plain.Module.forward(ids), 1e-6, 1e-6));

        using var again = ModelLoader.Load(folder);
        var refused = Assert.Throws<AdapterLoadException>(() => AdapterLoader.Apply(again.Module, plan.OutputDirectory, merge: true));
        Assert.Contains("cannot be merged", refused.Message);
        var hf = Assert.Throws<AdapterLoadException>(() => MergedCheckpointWriter.Write(AdapterFolder.Open(plan.OutputDirectory), null, Path.Combine(_fixture.Directory, "merged")));
        Assert.Contains("not linear", hf.Message);
        Assert.False(Directory.Exists(Path.Combine(_fixture.Directory, "merged")));
    }

    [Fact]
    public void InterruptedThenResumedGivesTheSameAdapterBytes()
    {
        string[] settings = ["method=bottleneck_adapter", "bottleneck_adapter.placement=both", "bottleneck_adapter.dropout=0.1",
            "training.max_steps=5", "training.checkpoint_every=2"];
        _fixture.AssertResumeIsBitIdentical(_recipe, "bottleneck", settings);
    }

    [Fact]
    public void PlanCountsDownAndUpWithBiases()
    {
        // tiny-llama: hidden d = 256, 4 layers. Per adapter: down m×d + m, up d×m + d.
        static long PerAdapter(long d, long m) => d * m + m + m * d + d;
        var ffn = TrainableParameters.For(_fixture.Plan(_recipe, "method=bottleneck_adapter"));
        var both = TrainableParameters.For(_fixture.Plan(_recipe, "method=bottleneck_adapter", "bottleneck_adapter.placement=both", "bottleneck_adapter.bottleneck_size=8"));
        Assert.Equal(4 * PerAdapter(256, 16), ffn.LoraParameters);
        Assert.Equal(4 * 2 * PerAdapter(256, 8), both.LoraParameters);
    }
}
