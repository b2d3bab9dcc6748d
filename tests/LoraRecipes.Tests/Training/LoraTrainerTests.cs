using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using LoraRecipes.Runtime;

namespace LoraRecipes.Tests.Training;

[Collection(GlobalRngCollection.Name)]   // TheSameRecipeGivesTheSameAdapterBytes: LoRA init draws right after manual_seed
public sealed class LoraTrainerTests : IDisposable
{
    private readonly TrainingFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void TrainingLowersTheLossAndWritesAPeftAdapter()
    {
        var plan = _fixture.Plan(_fixture.Recipe(maxSteps: 12));
        var events = new List<TrainingEvent>();
        var summary = new LoraTrainer(plan, events.Add).Run();

        var steps = events.OfType<StepCompleted>().ToList();
        Assert.Equal(12, steps.Count);
        Assert.True(steps.Skip(9).Average(s => s.Loss) < steps.Take(3).Average(s => s.Loss), "training loss did not go down");
        Assert.True(summary.FinalValidationLoss < summary.InitialValidationLoss, $"{summary.InitialValidationLoss} → {summary.FinalValidationLoss}");

        string dir = plan.OutputDirectory;
        foreach (string f in new[] { "adapter_config.json", "adapter_model.safetensors", "lora-manifest.json", "recipe.resolved.yaml", "metrics.jsonl" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        // No staging folder left behind; the resumable state of the last step is kept under checkpoints/.
        Assert.Equal(new[] { Path.Combine(dir, "checkpoints") }, Directory.GetDirectories(dir));

        // PEFT naming and orientation: A is [r, in], B is [out, r]; tiny-llama has hidden 256 and 4 kv heads × 32.
        using var weights = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors"));
        Assert.Equal(4 * 2 * 2, weights.Tensors.Count);
        Assert.Equal(new long[] { 4, 256 }, weights["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"].Shape);
        Assert.Equal(new long[] { 256, 4 }, weights["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"].Shape);
        Assert.Equal(new long[] { 128, 4 }, weights["base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight"].Shape);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")))!.AsObject();
        Assert.Equal("LORA", (string?)config["peft_type"]);
        Assert.Equal("CAUSAL_LM", (string?)config["task_type"]);
        Assert.Equal(4, (int)config["r"]!);
        Assert.Equal(8.0, (double)config["lora_alpha"]!);
        Assert.Equal(new[] { "q_proj", "v_proj" }, config["target_modules"]!.AsArray().Select(n => (string?)n));
        Assert.Equal("builtin:tiny-llama", (string?)config["base_model_name_or_path"]);
        foreach (string key in new[] { "bias", "use_rslora", "modules_to_save", "fan_in_fan_out", "inference_mode", "lora_dropout" })
            Assert.True(config.ContainsKey(key), key);

        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "lora-manifest.json")))!.AsObject();
        Assert.Equal(plan.Fingerprint, (string?)manifest["fingerprint"]);
        Assert.Equal(summary.FinalValidationLoss, (double?)manifest["metrics"]!["final_validation_loss"]);
    }

    [Fact]
    public void TheSavedAdapterReproducesTheFinalValidationLossThroughAnIndependentPath()
    {
        var plan = _fixture.Plan(_fixture.Recipe(maxSteps: 6));
        var summary = new LoraTrainer(plan).Run();

        // Re-read: fresh base model + adapter from disk, validation records scored by `dotnet lora eval`'s code.
        var data = TrainingData.Load(plan, LoraRecipes.Models.ModelLoader.Load(LoraRecipes.Models.ModelLoader.ResolveFolder(plan.BaseModel)).Tokenizer);
        string validationFile = Path.Combine(_fixture.Directory, "validation.jsonl");
        var lines = File.ReadAllLines(Path.Combine(_fixture.Directory, "data.jsonl"));
        var validationNumbers = data.Validation.Select(e => e.RecordNumber).ToHashSet();
        File.WriteAllLines(validationFile, lines.Where((_, i) => validationNumbers.Contains(i + 1)));

        var reloaded = FileEvaluator.Evaluate(null, plan.OutputDirectory, validationFile, template: null);
        Assert.Equal(summary.FinalValidationLoss!.Value, reloaded.Loss, 4);
        var baseOnly = FileEvaluator.Evaluate("builtin:tiny-llama", null, validationFile, "alpaca");
        Assert.Equal(summary.InitialValidationLoss!.Value, baseOnly.Loss, 4);
    }

    [Fact]
    public void TheSameRecipeGivesTheSameAdapterBytes()
    {
        string recipe = _fixture.Recipe(maxSteps: 3);
        var first = _fixture.Plan(recipe, "output.dir=out/a");
        var second = _fixture.Plan(recipe, "output.dir=out/b");
        new LoraTrainer(first).Run();
        new LoraTrainer(second).Run();
        Assert.Equal(Hash(Path.Combine(first.OutputDirectory, "adapter_model.safetensors")), Hash(Path.Combine(second.OutputDirectory, "adapter_model.safetensors")));
        var third = _fixture.Plan(recipe, "output.dir=out/c", "training.seed=7");
        new LoraTrainer(third).Run();
        Assert.NotEqual(Hash(Path.Combine(first.OutputDirectory, "adapter_model.safetensors")), Hash(Path.Combine(third.OutputDirectory, "adapter_model.safetensors")));
    }

    [Fact]
    public void ADivergingRunFailsWithTrainingFailedAndWritesNothing()
    {
        var plan = _fixture.Plan(_fixture.Recipe(maxSteps: 8), "training.learning_rate=1e30", "training.max_grad_norm=1e30");
        var ex = Assert.Throws<TrainingException>(() => new LoraTrainer(plan).Run());
        Assert.Equal(FailureKind.TrainingFailed, ex.Kind);
        Assert.Contains("step", ex.Message);
        Assert.False(File.Exists(Path.Combine(plan.OutputDirectory, "adapter_model.safetensors")));
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}

public sealed class PlanSupportTests : IDisposable
{
    private readonly TrainingFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Theory]
    [InlineData("lora.bias=all", "lora.bias")]
    [InlineData("lora.modules_to_save=[lm_head]", "modules_to_save")]
    public void SettingsThisVersionCannotTrainAreRefusedAtPlanTime(string setting, string named)
    {
        var result = RecipeLoader.LoadPlan(_fixture.Recipe(), [setting], new PlanOptions { BuiltinModelVersion = BuiltinModels.Version, ToolVersion = "test" });
        Assert.Null(result.Plan);
        Assert.Contains(result.Diagnostics, d => d.IsError && d.ToString().Contains(named, StringComparison.Ordinal));
    }

    [Fact]
    public void APlanBuiltInCodeIsStillGuardedByTheTrainer()
    {
        var plan = _fixture.Plan(_fixture.Recipe());
        var coded = plan with { Recipe = plan.Recipe with { Lora = plan.Recipe.Lora with { Bias = LoraBias.All } } };
        var ex = Assert.Throws<TrainingException>(() => new LoraTrainer(coded).Run());
        Assert.Equal(FailureKind.InvalidInput, ex.Kind);
        Assert.Contains("lora.bias", ex.Message);
    }

    [Fact]
    public void GenerationMetricsListedInTheRecipeAreComputedAtEachEvaluation()
    {
        string recipe = _fixture.Recipe(name: "gen", maxSteps: 1);
        File.WriteAllText(recipe, File.ReadAllText(recipe).Replace("  every: epoch", "  every: epoch\n  metrics: [loss, perplexity, exact_match, bleu, rouge_l]", StringComparison.Ordinal));
        var events = new List<TrainingEvent>();
        new LoraTrainer(_fixture.Plan(recipe), events.Add).Run();
        var evaluations = events.OfType<EvaluationCompleted>().ToList();
        Assert.NotEmpty(evaluations);
        foreach (var e in evaluations)
        {
            Assert.NotNull(e.Generation);
            Assert.Equal(["bleu", "exact_match", "rouge_l"], e.Generation!.Keys.Order(StringComparer.Ordinal));
            Assert.All(e.Generation.Values, v => Assert.True(v >= 0 && double.IsFinite(v)));
        }
        string log = File.ReadAllText(Path.Combine(_fixture.Plan(recipe).OutputDirectory, "metrics.jsonl"));
        Assert.Contains("\"generation\"", log, StringComparison.Ordinal);

        // Without generation metrics listed, none is computed.
        var plain = new List<TrainingEvent>();
        new LoraTrainer(_fixture.Plan(_fixture.Recipe(name: "plain", maxSteps: 1)), plain.Add).Run();
        Assert.All(plain.OfType<EvaluationCompleted>(), e => Assert.Null(e.Generation));
    }
}
