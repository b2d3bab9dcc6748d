using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.Events;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Runtime;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Training;

/// <summary>
/// <c>method: prefix_tuning</c> end to end on builtin:tiny-llama (4 layers, 4 key/value heads of 32: PEFT's token_dim 128):
/// train, save in PEFT's layout (one <c>prompt_embeddings</c> (n, L·2·token_dim), PrefixTuningConfig keys with PEFT's GQA
/// sizing), reload through the runtime to the trainer's last validation loss, refuse to merge, resume bit-identically,
/// and count trainable parameters as PEFT does.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class PrefixTuningTrainingTests : IDisposable
{
    private const int Layers = 4, TokenDim = 4 * 32;   // tiny-llama: 4 layers, GQA 8/4 heads of 32
    private readonly TrainingFixture _fixture = new();
    private readonly string _recipe;

    public PrefixTuningTrainingTests() => _recipe = _fixture.Recipe(maxSteps: 6);

    public void Dispose() => _fixture.Dispose();

    public static TheoryData<bool> Projections => new() { false, true };

    [Theory]
    [MemberData(nameof(Projections))]
    public void TrainsSavesPeftsLayoutAndReloadsToTheTrainersLastValidationLoss(bool projection)
    {
        string tag = projection ? "proj" : "table";
        string[] settings = ["method=prefix_tuning", "prefix_tuning.num_virtual_tokens=5", $"output.dir=out/prefix-{tag}", "training.learning_rate=1e-2",
            .. projection ? new[] { "prefix_tuning.prefix_projection=true", "prefix_tuning.encoder_hidden_size=24" } : []];
        var plan = _fixture.Plan(_recipe, settings);
        var summary = new LoraTrainer(plan).Run();
        Assert.True(summary.FinalValidationLoss < summary.InitialValidationLoss, $"{summary.InitialValidationLoss} → {summary.FinalValidationLoss}");

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig)))!.AsObject();
        Assert.Equal("PREFIX_TUNING", (string?)json["peft_type"]);
        Assert.Equal("CAUSAL_LM", (string?)json["task_type"]);
        Assert.Equal(5, (int)json["num_virtual_tokens"]!);
        Assert.Equal(TokenDim, (int)json["token_dim"]!);                  // PEFT's GQA rule: hidden / heads · kv_heads
        Assert.Equal(4, (int)json["num_attention_heads"]!);               // the key/value heads
        Assert.Equal(Layers, (int)json["num_layers"]!);
        Assert.Equal(projection, (bool)json["prefix_projection"]!);
        Assert.Equal(projection ? 24 : TokenDim, (int)json["encoder_hidden_size"]!);
        Assert.False(json.ContainsKey("r"));
        using (var weights = SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights)))
        {
            var only = Assert.Single(weights.Tensors);
            Assert.Equal("prompt_embeddings", only.Name);
            Assert.Equal(new long[] { 5, Layers * 2 * TokenDim }, only.Shape);
        }
        var manifest = LoraManifest.Read(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest));
        Assert.Equal("prefix_tuning", manifest.Adapter!.Method!.Name);
        Assert.Equal(projection ? 5 * TokenDim + (TokenDim * 24 + 24) + (24 * Layers * 2 * TokenDim + Layers * 2 * TokenDim) : 5 * Layers * 2 * TokenDim,
            manifest.Adapter.TrainableParameters);
        Assert.Equal(projection, manifest.Adapter.Method.Conversion is not null);

        // The saved table on a fresh base, as PEFT's inference mode: `dotnet lora eval`'s code gives the trainer's last loss.
        string validation = _fixture.WriteValidation(plan);
        var reloaded = FileEvaluator.Evaluate(null, plan.OutputDirectory, validation, template: null);
        Assert.Equal(summary.FinalValidationLoss!.Value, reloaded.Loss, 4);
        Assert.NotEqual(summary.InitialValidationLoss!.Value, reloaded.Loss, 3);

        using (var model = LoraModel.Load(plan.OutputDirectory))
        {
            var options = new GenerationOptions { MaxNewTokens = 6 };
            Assert.NotEqual(model.Generate("hello there", options, adapter: LoraModel.BaseOnly), model.Generate("hello there", options));
        }
        var refused = Assert.Throws<AdapterLoadException>(() => LoraModel.Load(plan.OutputDirectory, merge: true));
        Assert.Contains("PREFIX_TUNING", refused.Message);
    }

    [Theory]
    [MemberData(nameof(Projections))]
    public void InterruptedThenResumedGivesTheSameAdapterBytes(bool projection)
    {
        string[] settings = ["method=prefix_tuning", "prefix_tuning.num_virtual_tokens=3", $"prefix_tuning.prefix_projection={(projection ? "true" : "false")}",
            "training.max_steps=5", "training.checkpoint_every=2", "training.learning_rate=1e-2"];
        string tag = projection ? "proj" : "table";
        _fixture.AssertResumeIsBitIdentical(_recipe, tag, settings);
    }

    [Fact]
    public void PlanCountsThePrefixAsPeftDoes()
    {
        var table = TrainableParameters.For(_fixture.Plan(_recipe, "method=prefix_tuning", "prefix_tuning.num_virtual_tokens=10"));
        Assert.Equal(10L * Layers * 2 * TokenDim, table.Trainable);
        Assert.Equal("prompt_encoder", Assert.Single(table.Targets).Name);
        var projected = TrainableParameters.For(_fixture.Plan(_recipe, "method=prefix_tuning", "prefix_tuning.prefix_projection=true"));
        // encoder_hidden_size defaults to token_dim: embedding 20 × 128, Linear(128 → 128), Linear(128 → 4·2·128).
        Assert.Equal(20L * TokenDim + (TokenDim * TokenDim + TokenDim) + (TokenDim * Layers * 2 * TokenDim + Layers * 2 * TokenDim), projected.Trainable);
    }

    [Fact]
    public void PackingIsRefusedWithTheLineOfTheSetting()
    {
        var error = Assert.ThrowsAny<Exception>(() => _fixture.Plan(_recipe, "method=prefix_tuning", "data.packing=true"));
        Assert.Contains("data.packing cannot be used with method prefix_tuning", error.Message);
    }
}
