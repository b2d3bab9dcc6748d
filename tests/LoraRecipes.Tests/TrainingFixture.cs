using System.Security.Cryptography;
using LoraRecipes.Events;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Training;

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

    /// <summary>SHA-256 of the adapter weights a plan's run wrote.</summary>
    public static string AdapterHash(TrainingPlan plan) =>
        Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights))));

    /// <summary>
    /// Trains <paramref name="recipePath"/> with <paramref name="settings"/> straight through, then again interrupted after
    /// step <paramref name="stopAfter"/> and resumed from its last checkpoint, and asserts both wrote the same adapter bytes.
    /// Returns the resumed run's plan.
    /// </summary>
    public TrainingPlan AssertResumeIsBitIdentical(string recipePath, string tag, IEnumerable<string> settings, int stopAfter = 3)
    {
        string[] all = settings.ToArray();
        var reference = Plan(recipePath, [.. all, $"output.dir=out/ref-{tag}"]);
        new LoraTrainer(reference).Run();
        var plan = Plan(recipePath, [.. all, $"output.dir=out/resumed-{tag}"]);
        using (var stop = new CancellationTokenSource())
        {
            var trainer = new LoraTrainer(plan, e => { if (e is StepCompleted s && s.Step == stopAfter) stop.Cancel(); }, new TrainerOptions { Resume = true });
            Assert.Throws<TrainingInterruptedException>(() => trainer.Run(stop.Token));
        }
        new LoraTrainer(plan, options: new TrainerOptions { Resume = true }).Run();
        Assert.Equal(AdapterHash(reference), AdapterHash(plan));
        return plan;
    }

    /// <summary>Writes the records the plan holds out for validation to validation.jsonl (for `dotnet lora eval`'s code) and returns its path.</summary>
    public string WriteValidation(TrainingPlan plan)
    {
        using var loaded = ModelLoader.Load(ModelLoader.ResolveFolder(plan.BaseModel));
        var data = TrainingData.Load(plan, loaded.Tokenizer);
        var numbers = data.Validation.Select(e => e.RecordNumber).ToHashSet();
        string path = Path.Combine(Directory, "validation.jsonl");
        File.WriteAllLines(path, File.ReadAllLines(Path.Combine(Directory, "data.jsonl")).Where((_, i) => numbers.Contains(i + 1)));
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
