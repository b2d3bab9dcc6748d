using System.Text.Json;
using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Tests.Export;
using LoraRecipes.Tests.IO;
using LoraRecipes.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Artifacts;

/// <summary>
/// <c>import-adapter</c> for IA3 and DoRA adapters written in PEFT's layout by the test (random tensors under PEFT's
/// names and config keys). The expected loss is independent of our adapter layers: the test folds PEFT's formulas into a
/// plain copy of the base weights by hand (IA3: W ⊙ l; DoRA: m / ‖W + s·B·A‖ ⊙ (W + s·B·A)) and evaluates that model;
/// the imported artifact, loaded through our loader's unmerged forward, must give the same loss.
/// </summary>
public sealed class AdapterImporterMethodTests
{
    private const int Layers = 4;   // builtin:tiny-llama: hidden 256, k/v 256→128, down_proj 688→256

    [Fact]
    public void A_peft_ia3_folder_imports_against_an_ia3_recipe_with_the_loss_of_its_formula()
    {
        using var temp = new TempDirectory();
        var plan = Plan(temp, "method=ia3");
        string foreign = Path.Combine(temp.Path, "peft-ia3");
        var scales = Ia3Scales(feedforwardDown: true);
        WriteIa3(foreign, scales, feedforward: ["down_proj"]);

        double expected = LossWith(plan, weights =>
        {
            foreach (var (module, l) in scales)
            {
                var w = weights[module + ".weight"];
                w.mul_(module.EndsWith("down_proj", StringComparison.Ordinal) ? l.reshape(1, -1) : l.reshape(-1, 1));   // ff: columns (input); else rows (output)
            }
        });
        var result = AdapterImporter.Import(plan, foreign, "peft 0.17");

        Assert.Equal(3 * Layers, result.Modules);
        var config = PeftAdapterConfig.Load(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig));
        Assert.True(config.IsIa3);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest)));
        var adapter = manifest.RootElement.GetProperty("adapter");
        Assert.Equal("ia3", adapter.GetProperty("method").GetProperty("name").GetString());
        Assert.Equal(Layers * (128 + 128 + 688), adapter.GetProperty("trainable_parameters").GetInt64());
        Assert.Equal(plan.Fingerprint, manifest.RootElement.GetProperty("fingerprint").GetString());

        double imported = LoadedLoss(plan, plan.OutputDirectory);
        Assert.True(Math.Abs(imported - expected) <= 1e-5 * Math.Abs(expected), $"imported {imported} vs hand-folded {expected}");
        Assert.True(Math.Abs(imported - LossWith(plan, _ => { })) > 1e-3, "the scales must change the loss");
    }

    [Fact]
    public void A_peft_dora_folder_imports_against_a_dora_recipe_with_the_loss_of_its_formula()
    {
        using var temp = new TempDirectory();
        var plan = Plan(temp, "lora.use_dora=true");
        int r = plan.Recipe.Lora.R;
        double s = plan.Recipe.Lora.Alpha / r;
        string foreign = Path.Combine(temp.Path, "peft-dora");
        var g = new TorchSharp.torch.Generator(11);
        var modules = Enumerable.Range(0, Layers).SelectMany(i => new[] { ($"model.layers.{i}.self_attn.q_proj", 256L), ($"model.layers.{i}.self_attn.v_proj", 128L) }).ToList();
        var baseWeights = BaseWeights(plan);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (module, outFeatures) in modules)
        {
            var a = randn([r, 256], generator: g) * 0.1f;
            var b = randn([outFeatures, r], generator: g) * 0.1f;
            // m near W's row norms, so the direction and the magnitude both move the output.
            var m = baseWeights[module + ".weight"].norm(1) * (1 + 0.2f * randn([outFeatures], generator: g));
            tensors[$"base_model.model.{module}.lora_A.weight"] = a;
            tensors[$"base_model.model.{module}.lora_B.weight"] = b;
            tensors[$"base_model.model.{module}.lora_magnitude_vector.weight"] = m;
        }
        WritePeft(foreign, tensors, $$"""
            {"alpha_pattern": {}, "base_model_name_or_path": "./base_model", "bias": "none", "fan_in_fan_out": false,
             "inference_mode": true, "init_lora_weights": true, "lora_alpha": {{(long)plan.Recipe.Lora.Alpha}}, "lora_bias": false,
             "lora_dropout": 0.05, "modules_to_save": null, "peft_type": "LORA", "r": {{r}}, "rank_pattern": {}, "revision": null,
             "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM", "use_dora": true, "use_rslora": false}
            """);

        double expected = LossWith(plan, weights =>
        {
            foreach (var (module, _) in modules)
            {
                var w = weights[module + ".weight"];
                var adapted = w + s * tensors[$"base_model.model.{module}.lora_B.weight"].matmul(tensors[$"base_model.model.{module}.lora_A.weight"]);
                var norm = adapted.norm(1, keepdim: true);                                                 // ‖W + s·B·A‖ per output row
                w.copy_(tensors[$"base_model.model.{module}.lora_magnitude_vector.weight"].reshape(-1, 1) / norm * adapted);
            }
        });
        var result = AdapterImporter.Import(plan, foreign, "peft 0.17");

        Assert.Equal(2 * Layers, result.Modules);
        Assert.True(PeftAdapterConfig.Load(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig)).UseDora);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest)));
        Assert.True(manifest.RootElement.GetProperty("adapter").GetProperty("method").GetProperty("use_dora").GetBoolean());
        double imported = LoadedLoss(plan, plan.OutputDirectory);
        Assert.True(Math.Abs(imported - expected) <= 1e-5 * Math.Abs(expected), $"imported {imported} vs hand-folded {expected}");
    }

    [Fact]
    public void Method_mismatches_are_refused_by_name_and_write_nothing()
    {
        using var temp = new TempDirectory();
        string ia3 = Path.Combine(temp.Path, "peft-ia3");
        WriteIa3(ia3, Ia3Scales(feedforwardDown: true), feedforward: ["down_proj"]);

        var lora = Plan(temp, "output.dir=" + Path.Combine(temp.Path, "lora"));
        var ex = Assert.Throws<AdapterImportException>(() => AdapterImporter.Import(lora, ia3, "external"));
        Assert.Contains("peft_type is IA3; the recipe's method is lora (peft_type LORA).", ex.Mismatches);

        // The same IA3 scales, but PEFT told that down_proj scales its output (l shaped (out, 1)): the recipe's family
        // default makes down_proj feed-forward, so the import says where they differ.
        string outputScaled = Path.Combine(temp.Path, "peft-ia3-no-ff");
        WriteIa3(outputScaled, Ia3Scales(feedforwardDown: false), feedforward: []);
        var ia3Plan = Plan(temp, "method=ia3");
        ex = Assert.Throws<AdapterImportException>(() => AdapterImporter.Import(ia3Plan, outputScaled, "external"));
        Assert.Contains(ex.Mismatches, m => m.StartsWith("feedforward_modules differs from the recipe's ia3.feedforward_modules at model.layers.0.mlp.down_proj", StringComparison.Ordinal));

        var pissa = Plan(temp, "lora.init=pissa");
        ex = Assert.Throws<AdapterImportException>(() => AdapterImporter.Import(pissa, ia3, "external"));
        Assert.Contains(ex.Mismatches, m => m.StartsWith("lora.init is pissa", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(ia3Plan.OutputDirectory, ArtifactFiles.Manifest)));
        Assert.False(File.Exists(Path.Combine(lora.OutputDirectory, ArtifactFiles.Manifest)));
    }

    private static TrainingPlan Plan(TempDirectory temp, params string[] overrides)
    {
        var options = new PlanOptions { ToolVersion = ToolInfo.Version, BuiltinModelVersion = BuiltinModels.Version, OutputDirOverride = Path.Combine(temp.Path, "artifact") };
        var result = RecipeLoader.LoadPlan(ExportFixture.Recipe("medical.yaml"), overrides, options);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    /// <summary>Random positive IA3 vectors per module path, flat: k/v (128), down_proj (688 when feed-forward, else 256).</summary>
    private static Dictionary<string, Tensor> Ia3Scales(bool feedforwardDown)
    {
        var g = new TorchSharp.torch.Generator(5);
        var scales = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < Layers; i++)
        {
            scales[$"model.layers.{i}.self_attn.k_proj"] = 1 + 0.3f * randn([128], generator: g);
            scales[$"model.layers.{i}.self_attn.v_proj"] = 1 + 0.3f * randn([128], generator: g);
            scales[$"model.layers.{i}.mlp.down_proj"] = 1 + 0.3f * randn([feedforwardDown ? 688 : 256], generator: g);
        }
        return scales;
    }

    /// <summary>PEFT's IA3 layout: <c>…&lt;module&gt;.ia3_l</c>, (1, in) for feed-forward modules, (out, 1) for the others.</summary>
    private static void WriteIa3(string folder, Dictionary<string, Tensor> scales, string[] feedforward)
    {
        var tensors = scales.ToDictionary(p => $"base_model.model.{p.Key}.ia3_l",
            p => feedforward.Any(f => p.Key.EndsWith(f, StringComparison.Ordinal)) ? p.Value.reshape(1, -1) : p.Value.reshape(-1, 1));
        string ff = string.Join(", ", feedforward.Select(f => $"\"{f}\""));
        WritePeft(folder, tensors, $$"""
            {"auto_mapping": null, "base_model_name_or_path": "./base_model", "exclude_modules": null, "fan_in_fan_out": false,
             "feedforward_modules": [{{ff}}], "inference_mode": true, "init_ia3_weights": true, "layers_pattern": null,
             "layers_to_transform": null, "modules_to_save": null, "peft_type": "IA3", "revision": null,
             "target_modules": ["k_proj", "v_proj", "down_proj"], "task_type": "CAUSAL_LM"}
            """);
    }

    private static void WritePeft(string folder, Dictionary<string, Tensor> tensors, string config)
    {
        Directory.CreateDirectory(folder);
        SafetensorsWriter.Write(Path.Combine(folder, ArtifactFiles.AdapterWeights), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(folder, ArtifactFiles.AdapterConfig), config);
    }

    private static Dictionary<string, Tensor> BaseWeights(TrainingPlan plan)
    {
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder(plan.BaseModel));
        return model.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone(), StringComparer.Ordinal);
    }

    /// <summary>Validation loss of the plain base model after <paramref name="fold"/> edits its weights (by parameter name).</summary>
    private static double LossWith(TrainingPlan plan, Action<Dictionary<string, Tensor>> fold)
    {
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder(plan.BaseModel));
        using var data = TrainingData.Load(plan, model.Tokenizer);
        using (no_grad()) fold(model.Module.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter, StringComparer.Ordinal));
        return LossEvaluator.Evaluate(model.Module, data.Validation, 8, model.Tokenizer.PadId ?? model.Tokenizer.EosId ?? 0).Loss;
    }

    /// <summary>Validation loss with the artifact applied by our loader (unmerged).</summary>
    private static double LoadedLoss(TrainingPlan plan, string adapterFolder)
    {
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder(plan.BaseModel));
        using var data = TrainingData.Load(plan, model.Tokenizer);
        AdapterLoader.Apply(model.Module, adapterFolder);
        return LossEvaluator.Evaluate(model.Module, data.Validation, 8, model.Tokenizer.PadId ?? model.Tokenizer.EosId ?? 0).Loss;
    }
}
