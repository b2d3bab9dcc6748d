using LoraRecipes.Models;
using LoraRecipes.Recipes;

namespace LoraRecipes.Tests;

/// <summary>A temporary folder with a small alpaca data file and a recipe on builtin:tiny-llama.</summary>
internal sealed class TrainingFixture : IDisposable
{
    public TrainingFixture(int records = 24)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("lora-train-").FullName;
        var lines = Enumerable.Range(0, records).Select(i => i % 2 == 0
            ? $"{{\"instruction\": \"介绍疾病\", \"input\": \"问题 {i}：什么是高血压\", \"output\": \"高血压是血压长期高于正常。第 {i} 条。\"}}"
            : $"{{\"instruction\": \"Explain the condition\", \"input\": \"Question {i}: what is asthma\", \"output\": \"Asthma narrows the airways. Item {i}.\"}}");
        File.WriteAllLines(Path.Combine(Directory, "data.jsonl"), lines);
    }

    public string Directory { get; }

    /// <summary>Writes a recipe (extra YAML lines appended under the given sections) and returns its path.</summary>
    public string Recipe(string name = "tiny", int maxSteps = 6, string extraTraining = "", string samples = "[]")
    {
        string path = Path.Combine(Directory, name + ".yaml");
        File.WriteAllText(path, $"""
            name: {name}
            base_model: builtin:tiny-llama
            data:
              train: data.jsonl
              validation_split: 0.25
              max_length: 160
            lora:
              r: 4
              alpha: 8
              dropout: 0.0
              target_modules: [q_proj, v_proj]
            training:
              max_steps: {maxSteps}
              batch_size: 6
              learning_rate: 1e-2
              warmup_ratio: 0.0
              threads: 2
            {extraTraining}
            evaluation:
              every: epoch
              samples: {samples}
            output:
              dir: out/{name}
            """);
        return path;
    }

    public TrainingPlan Plan(string recipePath, params string[] overrides)
    {
        var result = RecipeLoader.LoadPlan(recipePath, overrides, new PlanOptions { BuiltinModelVersion = BuiltinModels.Version, ToolVersion = "test" });
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
