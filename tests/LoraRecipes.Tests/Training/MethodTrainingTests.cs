using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Training;

/// <summary>Each method trains on builtin:tiny-llama from a recipe, saves in PEFT's layout, reloads (merged == unmerged),
/// and resumes bit-identically.</summary>
[Collection(GlobalRngCollection.Name)]
public sealed class MethodTrainingTests : IDisposable
{
    private readonly TrainingFixture _fixture = new();
    private readonly string _recipe;

    public MethodTrainingTests() => _recipe = _fixture.Recipe(maxSteps: 6);

    public void Dispose() => _fixture.Dispose();

    public static TheoryData<string, string> Methods => new()
    {
        { "dora", "lora.use_dora=true" },
        { "pissa", "lora.init=pissa" },
        { "pissa_niter_2", "lora.init=pissa_niter_2" },
        { "olora", "lora.init=olora" },
        { "ia3", "method=ia3" },
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void TrainsReducesLossAndReloadsMergedEqualToUnmerged(string name, string setting)
    {
        var plan = _fixture.Plan(_recipe, setting, "output.dir=out/" + name, "training.learning_rate=3e-2");
        var summary = new LoraTrainer(plan).Run();
        Assert.True(summary.FinalValidationLoss < summary.InitialValidationLoss, $"{name}: {summary.InitialValidationLoss} → {summary.FinalValidationLoss}");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig)))!;
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest)))!;
        using var weights = LoraRecipes.IO.SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights));
        var keys = weights.Tensors.Select(t => t.Name).ToList();
        switch (name)
        {
            case "ia3":
                Assert.Equal("IA3", (string?)config["peft_type"]);
                Assert.Contains("down_proj", (string?)config["feedforward_modules"]);
                Assert.Contains("base_model.model.model.layers.0.mlp.down_proj.ia3_l", keys);
                Assert.Equal(new long[] { 1, 688 }, weights["base_model.model.model.layers.0.mlp.down_proj.ia3_l"].Shape);   // (1, in): input-scaled
                Assert.Equal(new long[] { 128, 1 }, weights["base_model.model.model.layers.0.self_attn.k_proj.ia3_l"].Shape);   // (out, 1)
                break;
            case "dora":
                Assert.True((bool)config["use_dora"]!);
                Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector.weight", keys);
                break;
            default:   // PiSSA/OLoRA: converted to a plain rank-2r LoRA of the unmodified base
                Assert.Equal(8, (int)config["r"]!);
                Assert.Equal(16.0, (double)config["lora_alpha"]!);
                Assert.True((bool)config["init_lora_weights"]!);
                Assert.Equal(new long[] { 8, 256 }, weights["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"].Shape);
                Assert.Equal(name, (string?)manifest["adapter"]!["method"]!["init"]);
                break;
        }

        // The artifact on a fresh (unmodified) base: unmerged and merged compute the same logits.
        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        using var unmerged = ModelLoader.Load(folder);
        using var merged = ModelLoader.Load(folder);
        var a = AdapterLoader.Apply(unmerged.Module, plan.OutputDirectory);
        AdapterLoader.Apply(merged.Module, plan.OutputDirectory, merge: true);
        Assert.All(a.Values, l => Assert.Equal(name == "ia3" ? "IA3" : "LORA", l.PeftType));
        unmerged.Module.eval();
        merged.Module.eval();
        using var ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29 }).unsqueeze(0);
        using var guard = no_grad();
        var u = Logits(unmerged, ids);
        var m = Logits(merged, ids);
        Assert.True(u.allclose(m, 1e-5, 1e-4), $"{name}: max |merged − unmerged| = {(u - m).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData("dora", "lora.use_dora=true")]
    [InlineData("ia3", "method=ia3")]
    [InlineData("pissa", "lora.init=pissa")]
    [InlineData("pissa_niter_2", "lora.init=pissa_niter_2")]   // the sketch is redrawn from the seed on resume
    public void InterruptedThenResumedGivesTheSameAdapterBytes(string name, string setting)
    {
        string[] settings = [setting, "training.max_steps=5", "training.checkpoint_every=2", "lora.dropout=0.1"];
        _fixture.AssertResumeIsBitIdentical(_recipe, name, settings);
    }

    [Fact]
    public void PlanCountsTrainableParametersPeftsWay()
    {
        // tiny-llama: hidden 256, 4 layers, q 256→256, k and v 256→128 (GQA: 4 kv heads × 32), down 688→256.
        var lora = TrainableParameters.For(_fixture.Plan(_recipe));
        var dora = TrainableParameters.For(_fixture.Plan(_recipe, "lora.use_dora=true"));
        var ia3 = TrainableParameters.For(_fixture.Plan(_recipe, "method=ia3"));
        Assert.Equal(4 * (256 + 128), dora.LoraParameters - lora.LoraParameters);   // + out per target
        Assert.Equal(4 * (128 + 128 + 688), ia3.LoraParameters);                   // k, v: out; down_proj (feed-forward): in
    }

    private static Tensor Logits(LoadedModel model, Tensor ids) => model.Module.forward(ids);
}
