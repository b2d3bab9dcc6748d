using System.Text.RegularExpressions;
using LoraRecipes.Export;
using LoraRecipes.Recipes.Schema;
using LoraRecipes.Tests.IO;

namespace LoraRecipes.Tests.Export;

/// <summary>Walks the recipe schema: every key is mapped for each engine, or its inexpressible values are refused by name.</summary>
public sealed class ExportMappingTests
{
    /// <summary>Values each engine cannot express (the refusals the table promises): an override of the medical recipe, or a shipped recipe.</summary>
    public static TheoryData<string, string, string> Refused() => new()
    {
        { "axolotl", "task", "sentiment.yaml" },
        { "llamafactory", "task", "sentiment.yaml" },
        { "axolotl", "data.format", "sentiment.yaml" },
        { "llamafactory", "data.format", "sentiment.yaml" },
        { "axolotl", "lora.alpha", "lora.alpha=16.5" },
        { "llamafactory", "lora.alpha", "lora.alpha=16.5" },
        { "axolotl", "lora.target_modules", "lora.target_modules=[\"re:.*q_proj\"]" },
        { "llamafactory", "lora.target_modules", "lora.target_modules=[\"re:.*q_proj\"]" },
        { "llamafactory", "lora.init", "lora.init=gaussian" },
        { "axolotl", "lora.init", "lora.init=pissa" },
        { "axolotl", "lora.use_dora", "lora.use_dora=true" },
        { "llamafactory", "lora.use_dora", "lora.use_dora=true" },
        { "axolotl", "method", "method=ia3" },
        { "llamafactory", "method", "method=ia3" },
        { "axolotl", "training.device", "training.device=cpu" },
        { "llamafactory", "training.device", "training.device=cuda:1" },
        { "axolotl", "training.on_nan", "training.on_nan=skip_step" },
        { "llamafactory", "training.on_nan", "training.on_nan=skip_step" },
        { "axolotl", "evaluation.metrics", "evaluation.metrics=[loss, bleu]" },
        { "llamafactory", "evaluation.metrics", "evaluation.metrics=[loss, rouge_l]" },
        { "axolotl", "evaluation.keep", "evaluation.keep=best" },
        { "llamafactory", "evaluation.keep", "evaluation.keep=best" },
        { "axolotl", "evaluation.early_stopping.patience", "evaluation.early_stopping.patience=2" },
        { "llamafactory", "evaluation.early_stopping.patience", "evaluation.early_stopping.patience=2" },
    };

    [Fact]
    public void EveryRecipeKeyHasOneMappingInSchemaOrder()
    {
        var keys = RecipeSchema.Entries.Where(e => e.Type != RecipeValueType.Section).Select(e => e.Path).ToList();
        Assert.Equal(keys, ExportMappings.All.Select(m => m.RecipeKey).ToList());
    }

    [Fact]
    public void TheDocumentedRefusalsAreTheTestedOnes()
    {
        var tested = Refused().Select(row => (string)row[1]).Distinct().Order(StringComparer.Ordinal);
        var documented = ExportMappings.All.Where(m => m.Refused is not null).Select(m => m.RecipeKey).Order(StringComparer.Ordinal);
        Assert.Equal(documented, tested);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void InexpressibleValuesAreRefusedByKeyAndEngine(string engineName, string key, string set)
    {
        var engine = ExportNames.Engine(engineName)!.Value;
        // task and data.format go together (LORA023): the sentiment recipe holds both; the rest override medical.
        var plan = set.EndsWith(".yaml", StringComparison.Ordinal)
            ? ExportFixture.Plan(ExportFixture.Recipe(set))
            : ExportFixture.Plan(ExportFixture.Recipe("medical.yaml"), set);
        using var temp = new TempDirectory();
        string folder = Path.Combine(temp.Path, "out");
        var ex = Assert.Throws<ExportRefusedException>(() => RecipeExporter.Export(plan, engine, ExportLauncher.DeepSpeedZero2, folder));
        Assert.Contains(ex.Refusals, r => r.Key == key);
        Assert.Contains(key + ":", ex.Message);
        Assert.Contains(ExportNames.Display(engine), ex.Message);
        Assert.False(Directory.Exists(folder));
    }

    [Theory]
    [InlineData("axolotl")]
    [InlineData("llamafactory")]
    public void EveryMappedEngineKeyAppearsInTheExport(string engineName)
    {
        var engine = ExportNames.Engine(engineName)!.Value;
        // Non-default values, so conditional keys are written too.
        string[] sets = ["training.max_steps=7", "lora.use_rslora=true", "data.packing=true",
            "evaluation.every=5", "training.threads=3", engine == ExportEngine.Axolotl ? "lora.init=gaussian" : "lora.init=default"];
        var plan = ExportFixture.Plan(ExportFixture.Recipe("medical.yaml"), sets);
        Assert.Empty(ExportMappings.Refusals(plan.Recipe, engine));
        using var temp = new TempDirectory();
        string folder = ExportFixture.Export(temp.Path, plan, engine, ExportLauncher.DeepSpeedZero2);
        string all = string.Concat(Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains(Path.DirectorySeparatorChar + "base_model" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Select(File.ReadAllText));
        foreach (var mapping in ExportMappings.All)
        {
            string column = engine == ExportEngine.Axolotl ? mapping.Axolotl : mapping.LlamaFactory;
            // "a | b": one of the alternatives is written (the one the recipe's values select), with all its keys.
            var alternatives = column.Split(" | ").Select(a => Regex.Matches(a, "`([a-z_0-9]+)").Select(m => m.Groups[1].Value)
                .Where(k => k is not ("revision_of_model" or "model_revision")).ToList()).ToList();   // hub ids with @revision only
            if (alternatives.All(keys => keys.Count == 0)) continue;   // carried by the data or the scripts, checked elsewhere
            Assert.True(alternatives.Any(keys => keys.Count > 0 && keys.All(k => all.Contains(k, StringComparison.Ordinal))),
                $"{mapping.RecipeKey} → {column}: not in the {engineName} export");
        }
    }
}
