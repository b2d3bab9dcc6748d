using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.Events;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Runtime;
using LoraRecipes.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Training;

/// <summary>
/// <c>method: prompt_tuning</c> and <c>method: p_tuning</c> end to end: train, save in PEFT's layout (one
/// <c>prompt_embeddings</c> tensor, PEFT's PromptLearningConfig keys), reload through the runtime, refuse to merge,
/// resume bit-identically, and count trainable parameters as PEFT does.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class PromptLearningTrainingTests : IDisposable
{
    private readonly TrainingFixture _fixture = new();
    private readonly string _recipe;

    public PromptLearningTrainingTests() => _recipe = _fixture.Recipe(maxSteps: 6);

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void PromptTuningFromTextTrainsSavesPeftsLayoutAndServesGeneration()
    {
        var plan = _fixture.Plan(_recipe, "method=prompt_tuning", "prompt_tuning.num_virtual_tokens=8", "prompt_tuning.init=text",
            "prompt_tuning.init_text=Answer the medical question", "output.dir=out/prompt", "training.learning_rate=3e-2");
        var summary = new LoraTrainer(plan).Run();
        Assert.True(summary.FinalValidationLoss < summary.InitialValidationLoss, $"{summary.InitialValidationLoss} → {summary.FinalValidationLoss}");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig)))!.AsObject();
        Assert.Equal("PROMPT_TUNING", (string?)config["peft_type"]);
        Assert.Equal("CAUSAL_LM", (string?)config["task_type"]);
        Assert.Equal(8, (int)config["num_virtual_tokens"]!);
        Assert.Equal(256, (int)config["token_dim"]!);                 // tiny-llama: hidden 256, 4 layers, 8 heads
        Assert.Equal(4, (int)config["num_layers"]!);
        Assert.Equal(8, (int)config["num_attention_heads"]!);
        Assert.Equal(1, (int)config["num_transformer_submodules"]!);
        Assert.Equal("TEXT", (string?)config["prompt_tuning_init"]);
        Assert.Equal("Answer the medical question", (string?)config["prompt_tuning_init_text"]);
        Assert.Equal("builtin:tiny-llama", (string?)config["tokenizer_name_or_path"]);   // PEFT requires it with TEXT
        Assert.False(config.ContainsKey("r"));

        using (var weights = SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights)))
        {
            var only = Assert.Single(weights.Tensors);
            Assert.Equal("prompt_embeddings", only.Name);
            Assert.Equal(new long[] { 8, 256 }, only.Shape);
        }
        var manifest = LoraManifest.Read(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest));
        Assert.Equal("prompt_tuning", manifest.Adapter!.Method!.Name);
        Assert.Equal(8 * 256, manifest.Adapter.TrainableParameters);

        // The runtime: generation with the virtual tokens differs from the base alone; merge is refused, as in PEFT.
        using (var model = LoraModel.Load(plan.OutputDirectory))
        {
            var options = new GenerationOptions { MaxNewTokens = 6 };
            string adapted = model.Generate("hello there", options);
            string plain = model.Generate("hello there", options, adapter: LoraModel.BaseOnly);
            Assert.NotEqual(plain, adapted);
        }
        var refused = Assert.Throws<AdapterLoadException>(() => LoraModel.Load(plan.OutputDirectory, merge: true));
        Assert.Contains("cannot merge it either", refused.Message);
    }

    [Fact]
    public void PTuningSavesTheEncoderOutputThatReloadsToTheSameFunction()
    {
        var plan = _fixture.Plan(_recipe, "method=p_tuning", "p_tuning.num_virtual_tokens=6", "p_tuning.encoder_hidden_size=32", "output.dir=out/ptuning",
            "training.learning_rate=1e-2");
        var summary = new LoraTrainer(plan).Run();

        var config = PeftAdapterConfig.Load(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig));
        Assert.Equal("P_TUNING", config.PeftType);
        Assert.Equal("MLP", config.EncoderReparameterizationType);
        Assert.Equal(32, config.EncoderHiddenSize);
        Assert.Equal(6, config.NumVirtualTokens);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig)))!.AsObject();
        foreach (string key in new[] { "encoder_dropout", "encoder_num_layers", "token_dim", "num_layers", "num_attention_heads", "inference_mode" })
            Assert.True(json.ContainsKey(key), key);

        // The validation loss of the reloaded adapter (the saved encoder output as a plain table, as PEFT's inference mode)
        // is the trainer's final one: the validation records scored by `dotnet lora eval`'s code on a fresh base.
        var reloaded = FileEvaluator.Evaluate(null, plan.OutputDirectory, _fixture.WriteValidation(plan), template: null);
        Assert.Equal(summary.FinalValidationLoss!.Value, reloaded.Loss, 4);
        Assert.NotEqual(summary.InitialValidationLoss!.Value, reloaded.Loss, 3);
        // PEFT's count: the embedding (n × H) and the MLP (H→h→h→H with biases).
        Assert.Equal(6 * 256 + (256 * 32 + 32) + (32 * 32 + 32) + (32 * 256 + 256), LoraManifest.Read(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest)).Adapter!.TrainableParameters);
    }

    public static TheoryData<string[]> ResumedMethods => new()
    {
        new[] { "method=prompt_tuning" },
        new[] { "method=p_tuning", "p_tuning.encoder=lstm", "p_tuning.encoder_hidden_size=16", "p_tuning.encoder_dropout=0.2", "p_tuning.num_virtual_tokens=4" },
    };

    [Theory]
    [MemberData(nameof(ResumedMethods))]
    public void InterruptedThenResumedGivesTheSameAdapterBytes(string[] method)
    {
        string[] settings = [.. method, "training.max_steps=5", "training.checkpoint_every=2", "training.learning_rate=1e-2"];
        string tag = method[0][7..];
        _fixture.AssertResumeIsBitIdentical(_recipe, tag, settings);
    }

    [Fact]
    public void PlanCountsTheVirtualTokensAndTheEncoder()
    {
        var prompt = TrainableParameters.For(_fixture.Plan(_recipe, "method=prompt_tuning", "prompt_tuning.num_virtual_tokens=10"));
        Assert.Equal(10 * 256, prompt.Trainable);
        Assert.Equal("prompt_encoder", Assert.Single(prompt.Targets).Name);
        var lstm = TrainableParameters.For(_fixture.Plan(_recipe, "method=p_tuning", "p_tuning.encoder=lstm", "p_tuning.encoder_hidden_size=8", "p_tuning.encoder_num_layers=1"));
        // embedding 20×256; one bidirectional LSTM layer: 2 × (4h×256 + 4h×h + 2·4h); head: (2h→2h) + (2h→256), with biases.
        long h = 8;
        Assert.Equal(20 * 256 + 2 * (4 * h * 256 + 4 * h * h + 8 * h) + (2 * h * 2 * h + 2 * h) + (2 * h * 256 + 256), lstm.Trainable);
    }
}

/// <summary>p-tuning on the tiny DistilBERT classifier: the head is saved as PEFT's prompt-learning models save it and the reloaded adapter reproduces the last evaluation.</summary>
[Collection(GlobalRngCollection.Name)]
public sealed class PromptLearningClassificationTests : IDisposable
{
    private readonly ClassificationFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void PTuningClassifierSavesTheHeadUnderBaseModelAndReproducesTheFinalEvaluation()
    {
        var plan = _fixture.Plan(_fixture.Recipe("ptcls", epochs: 2), "method=p_tuning", "p_tuning.num_virtual_tokens=4", "lora.target_modules=[]");
        var events = new List<TrainingEvent>();
        new LoraTrainer(plan, events.Add).Run();
        using (var file = SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights)))
        {
            // PEFT's PeftModel holds the transformers model itself as base_model for prompt learning: no ".model." here.
            Assert.Equal(new long[] { 2, 128 }, file["base_model.classifier.weight"].Shape);
            Assert.True(file.Contains("base_model.pre_classifier.bias"));
            Assert.Equal(new long[] { 4, 128 }, file["prompt_embeddings"].Shape);
            Assert.Equal(5, file.Tensors.Count());
        }
        var config = PeftAdapterConfig.Load(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig));
        Assert.Equal("SEQ_CLS", config.TaskType);
        Assert.Equal(new[] { "pre_classifier", "classifier" }, config.ModulesToSave);

        var last = events.OfType<ClassificationEvaluated>().Last();
        var reloaded = FileEvaluator.EvaluateClassification(null, plan.OutputDirectory, _fixture.TestFile);
        Assert.Equal(last.Confusion, reloaded.Metrics.Confusion);
        Assert.Equal(last.Loss, reloaded.Loss, 5);
    }
}
