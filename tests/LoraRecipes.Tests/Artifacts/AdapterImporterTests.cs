using System.Text.Json;
using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tests.Export;
using LoraRecipes.Tests.IO;
using LoraRecipes.Tokenization;
using LoraRecipes.Training;
using TorchSharp;
using static TorchSharp.torch;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Tests.Artifacts;

/// <summary>
/// An adapter written the way a Python trainer writes it (PEFT's tensor names, a newer PEFT's adapter_config.json with
/// keys we do not know, the base model path of an export) imports into the recipe's artifact and evaluates to the
/// loss the same weights give in memory.
/// </summary>
public sealed class AdapterImporterTests
{
    [Fact]
    public void ForeignPeftAdapterImportsWithTheRecipesFingerprintAndTheSameLoss()
    {
        using var temp = new TempDirectory();
        var plan = Plan(temp);
        string foreign = Path.Combine(temp.Path, "axolotl-output");
        var (expectedLoss, baseLoss) = WriteForeignAdapter(plan, foreign, r: plan.Recipe.Lora.R);

        var result = AdapterImporter.Import(plan, foreign, "axolotl 0.15");

        Assert.Equal(plan.OutputDirectory, result.OutputDirectory);
        Assert.Equal(8, result.Modules);   // tiny-llama: 4 layers × (q_proj, v_proj)
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest)));
        Assert.Equal(plan.Fingerprint, manifest.RootElement.GetProperty("fingerprint").GetString());
        Assert.Equal("axolotl 0.15", manifest.RootElement.GetProperty("provenance").GetProperty("trained_by").GetString());
        Assert.Equal("builtin:tiny-llama", PeftAdapterConfig.Load(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig)).BaseModelNameOrPath);

        double imported = Loss(plan, plan.OutputDirectory);
        Assert.Equal(expectedLoss, imported, 6);
        Assert.True(Math.Abs(imported - baseLoss) > 1e-3, $"the adapter must change the loss (base {baseLoss}, adapted {imported})");
    }

    [Fact]
    public void AMismatchedRankIsRefusedByNameAndWritesNothing()
    {
        using var temp = new TempDirectory();
        var plan = Plan(temp);
        string foreign = Path.Combine(temp.Path, "foreign");
        WriteForeignAdapter(plan, foreign, r: plan.Recipe.Lora.R * 2);
        var ex = Assert.Throws<AdapterImportException>(() => AdapterImporter.Import(plan, foreign, "external"));
        Assert.Contains(ex.Mismatches, m => m.StartsWith($"r is {plan.Recipe.Lora.R * 2}; the recipe's lora.r is {plan.Recipe.Lora.R}", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest)));
    }

    private static TrainingPlan Plan(TempDirectory temp)
    {
        var options = new PlanOptions { ToolVersion = ToolInfo.Version, BuiltinModelVersion = BuiltinModels.Version, OutputDirOverride = Path.Combine(temp.Path, "artifact") };
        var result = RecipeLoader.LoadPlan(ExportFixture.Recipe("medical.yaml"), [], options);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    /// <summary>
    /// Injects LoRA with rank <paramref name="r"/>, gives A and B random values, measures the validation loss in memory,
    /// and saves the weights as PEFT does (names <c>base_model.model.…lora_A.weight</c>, A [r, in], B [out, r]) with
    /// a foreign adapter_config.json. Returns (adapted loss, base loss).
    /// </summary>
    private static (double Adapted, double Base) WriteForeignAdapter(TrainingPlan plan, string folder, int r)
    {
        Directory.CreateDirectory(folder);
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder(plan.BaseModel));
        using var data = TrainingData.Load(plan, model.Tokenizer);
        int pad = model.Tokenizer.PadId ?? model.Tokenizer.EosId ?? 0;
        double baseLoss = LossEvaluator.Evaluate(model.Module, data.Validation, 8, pad).Loss;
        var wrapped = LoraInjector.Inject(model.Module, new LoraSettings(r, plan.Recipe.Lora.Alpha, 0.0, ["q_proj", "v_proj"]));
        var generator = new Generator(7);
        var tensors = new Dictionary<string, Tensor>();
        using (no_grad())
        {
            foreach (var (path, layer) in wrapped)
            {
                layer.A.copy_(randn(layer.A.shape, generator: generator) * 0.1);
                layer.B.copy_(randn(layer.B.shape, generator: generator) * 0.1);
                tensors[$"base_model.model.{path}.lora_A.weight"] = layer.A.detach().clone();
                tensors[$"base_model.model.{path}.lora_B.weight"] = layer.B.detach().clone();
            }
        }
        double adapted = LossEvaluator.Evaluate(model.Module, data.Validation, 8, pad).Loss;
        SafetensorsWriter.Write(Path.Combine(folder, "adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), $$"""
            {
              "alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "./base_model", "bias": "none",
              "corda_config": null, "eva_config": null, "exclude_modules": null, "fan_in_fan_out": null, "inference_mode": true,
              "init_lora_weights": true, "layer_replication": null, "layers_pattern": null, "layers_to_transform": null,
              "loftq_config": {}, "lora_alpha": {{(long)plan.Recipe.Lora.Alpha}}, "lora_bias": false, "lora_dropout": 0.05,
              "megatron_config": null, "megatron_core": "megatron.core", "modules_to_save": null, "peft_type": "LORA",
              "qalora_group_size": 16, "r": {{r}}, "rank_pattern": {}, "revision": null, "target_modules": ["v_proj", "q_proj"],
              "target_parameters": null, "task_type": "CAUSAL_LM", "trainable_token_indices": null, "use_dora": false,
              "use_qalora": false, "use_rslora": false
            }
            """);
        return (adapted, baseLoss);
    }

    private static double Loss(TrainingPlan plan, string adapterFolder)
    {
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder(plan.BaseModel));
        using var data = TrainingData.Load(plan, model.Tokenizer);
        AdapterLoader.Apply(model.Module, adapterFolder);
        return LossEvaluator.Evaluate(model.Module, data.Validation, 8, model.Tokenizer.PadId ?? model.Tokenizer.EosId ?? 0).Loss;
    }
}
