using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Runtime;
using LoraRecipes.Training;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Tests.Training;

/// <summary>A trivially separable two-class set (cue words "wonderful"/"terrible" among shared filler) on builtin:tiny-distilbert.</summary>
internal sealed class ClassificationFixture : IDisposable
{
    private static readonly string[] Filler = ["the", "film", "was", "a", "story", "about", "people", "and", "their", "day", "in", "town", "with", "music"];

    public ClassificationFixture(int records = 48)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("lora-cls-").FullName;
        File.WriteAllLines(Path.Combine(Directory, "train.jsonl"), Records(records, seed: 1));
        File.WriteAllLines(Path.Combine(Directory, "test.jsonl"), Records(24, seed: 2));
    }

    public string Directory { get; }

    public string TestFile => Path.Combine(Directory, "test.jsonl");

    private static IEnumerable<string> Records(int n, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < n; i++)
        {
            bool positive = i % 2 == 0;
            var words = Enumerable.Range(0, 8).Select(_ => Filler[random.Next(Filler.Length)]).ToList();
            words.Insert(random.Next(words.Count), positive ? "wonderful" : "terrible");
            yield return $"{{\"text\": \"{string.Join(' ', words)}\", \"label\": \"{(positive ? "positive" : "negative")}\"}}";
        }
    }

    public string Recipe(string name = "cls", int epochs = 6, string extraTraining = "")
    {
        string path = Path.Combine(Directory, name + ".yaml");
        File.WriteAllText(path, $"""
            name: {name}
            base_model: builtin:tiny-distilbert
            task: sequence-classification
            data:
              train: train.jsonl
              validation: test.jsonl
              format: classification
              max_length: 32
            lora:
              r: 4
              alpha: 32
              dropout: 0.0
              target_modules: [q_lin]
            training:
              epochs: {epochs}
              batch_size: 8
              learning_rate: 5e-3
              warmup_ratio: 0.0
              threads: 2
            {extraTraining}
            evaluation:
              every: epoch
              metrics: [loss, accuracy, f1]
              samples: ["wonderful"]
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

public sealed class ClassificationTrainingTests : IDisposable
{
    private readonly ClassificationFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void Training_raises_accuracy_and_the_saved_SEQ_CLS_adapter_reproduces_the_final_evaluation()
    {
        var plan = _fixture.Plan(_fixture.Recipe());
        var events = new List<TrainingEvent>();
        var summary = new LoraTrainer(plan, events.Add).Run();

        var evaluations = events.OfType<ClassificationEvaluated>().ToList();
        Assert.Equal(0, evaluations[0].Step);
        Assert.Equal(new[] { "negative", "positive" }, evaluations[0].Labels);
        Assert.Equal(0.5, summary.InitialAccuracy!.Value, 6);             // the fresh head predicts one class for all
        Assert.True(summary.FinalAccuracy >= 0.9, $"final accuracy {summary.FinalAccuracy}");
        Assert.Equal(24, evaluations[^1].Confusion.Sum(row => row.Sum()));

        // PEFT layout: task_type SEQ_CLS, the head in modules_to_save and saved under base_model.model.<module>.
        var config = PeftAdapterConfig.Load(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig));
        Assert.Equal("SEQ_CLS", config.TaskType);
        Assert.Equal(new[] { "pre_classifier", "classifier" }, config.ModulesToSave);
        using (var file = SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights)))
        {
            Assert.Equal(new long[] { 2, 128 }, file["base_model.model.classifier.weight"].Shape);
            Assert.True(file.Contains("base_model.model.pre_classifier.bias"));
            Assert.True(file.Contains("base_model.model.distilbert.transformer.layer.0.attention.q_lin.lora_A.weight"));
        }
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest)))!;
        Assert.Equal(2, (int)manifest["labels"]!["num_labels"]!);
        Assert.Equal(1, (int)manifest["labels"]!["label2id"]!["positive"]!);
        Assert.Equal(summary.FinalAccuracy, (double)manifest["metrics"]!["final_validation_accuracy"]!);

        // Round trip: the base model + the saved adapter (LoRA and head) give the trainer's last evaluation exactly.
        var reloaded = FileEvaluator.EvaluateClassification(null, plan.OutputDirectory, _fixture.TestFile);
        Assert.Equal(evaluations[^1].Confusion, reloaded.Metrics.Confusion);
        Assert.Equal(evaluations[^1].Loss, reloaded.Loss, 5);

        using var model = LoraModel.Load(plan.OutputDirectory);
        Assert.Equal(TaskType.SequenceClassification, model.Task);
        var prediction = model.Classify("the film was wonderful");
        Assert.Equal("positive", prediction.Label);
        Assert.Equal(1.0, prediction.Probabilities.Values.Sum(), 4);
        Assert.Equal("negative", model.Classify("the film was terrible").Label);
        Assert.Throws<NotSupportedException>(() => model.Generate("x"));
    }

    [Fact]
    public void An_interrupted_classification_run_resumes_to_the_same_adapter_bytes()
    {
        var full = _fixture.Plan(_fixture.Recipe("full", epochs: 2, extraTraining: "  checkpoint_every: 4"));
        new LoraTrainer(full).Run();

        var resumed = _fixture.Plan(_fixture.Recipe("resumed", epochs: 2, extraTraining: "  checkpoint_every: 4"));
        using (var stop = new CancellationTokenSource())
        {
            Assert.Throws<TrainingInterruptedException>(() =>
                new LoraTrainer(resumed, e => { if (e is StepCompleted { Step: 5 }) stop.Cancel(); }).Run(stop.Token));
        }
        var summary = new LoraTrainer(resumed, options: new TrainerOptions { Resume = true }).Run();

        Assert.Equal(5, summary.ResumedFromStep);
        Assert.Equal(File.ReadAllBytes(Path.Combine(full.OutputDirectory, ArtifactFiles.AdapterWeights)),
            File.ReadAllBytes(Path.Combine(resumed.OutputDirectory, ArtifactFiles.AdapterWeights)));
    }

    [Fact]
    public void Empty_targets_train_the_head_alone_and_the_saved_head_reproduces_the_final_evaluation()
    {
        var plan = _fixture.Plan(_fixture.Recipe("head", epochs: 2), "lora.target_modules=[]");
        var events = new List<TrainingEvent>();
        new LoraTrainer(plan, events.Add).Run();

        var started = events.OfType<RunStarted>().Single();
        Assert.Empty(started.TargetModules);
        // pre_classifier 128·128 + 128 and classifier 2·128 + 2: nothing else takes a gradient.
        Assert.Equal(128 * 128 + 128 + 2 * 128 + 2, started.TrainableParameters);
        Assert.Equal(started.TrainableParameters, TrainableParameters.For(plan).Trainable);

        var config = PeftAdapterConfig.Load(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig));
        Assert.Empty(config.TargetModules);
        Assert.Equal(new[] { "pre_classifier", "classifier" }, config.ModulesToSave);
        using (var file = SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights)))
        {
            Assert.Equal(["base_model.model.classifier.bias", "base_model.model.classifier.weight",
                          "base_model.model.pre_classifier.bias", "base_model.model.pre_classifier.weight"], file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        }

        // The base encoder + the saved head alone give the trainer's last evaluation: nothing else was changed.
        var last = events.OfType<ClassificationEvaluated>().Last();
        var reloaded = FileEvaluator.EvaluateClassification(null, plan.OutputDirectory, _fixture.TestFile);
        Assert.Equal(last.Confusion, reloaded.Metrics.Confusion);
        Assert.Equal(last.Loss, reloaded.Loss, 5);
    }

    [Fact]
    public void Plan_counts_LoRA_and_the_head_like_PEFTs_print_trainable_parameters()
    {
        var counts = TrainableParameters.For(_fixture.Plan(_fixture.Recipe()));

        var group = Assert.Single(counts.Targets);
        Assert.Equal("q_lin", group.Name);
        Assert.Equal("distilbert.transformer.layer.{0..1}.attention.q_lin", group.Compact);
        // 2 layers · r 4 · (128 in + 128 out); head: pre_classifier 128·128 + 128, classifier 2·128 + 2.
        Assert.Equal(2 * 4 * (128 + 128), counts.LoraParameters);
        Assert.Equal(128 * 128 + 128 + 2 * 128 + 2, counts.SavedModuleParameters);
        // PEFT's "all params" holds the original head and its trainable copy.
        Assert.Equal(counts.BaseParameters + counts.LoraParameters + counts.SavedModuleParameters, counts.All);
        Assert.StartsWith("trainable params: 18,818 || all params: ", counts.PeftLine);
    }
}
