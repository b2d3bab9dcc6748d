using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.IO;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Runtime;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Training;

/// <summary>
/// <c>method: freeze</c> on the builtin:tiny-distilbert classifier (2 blocks): the last block and the head train, the delta holds
/// them under DistilBERT's HF names, reloads to the trainer's last evaluation, classifies through <see cref="LoraModel"/>, and
/// is refused beside another adapter over the same base.
/// </summary>
public sealed class FreezeClassificationTests : IDisposable
{
    private readonly ClassificationFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void TheLastBlockAndTheHeadTrainReloadAndClassify()
    {
        var plan = _fixture.Plan(_fixture.Recipe("frozen", epochs: 4), "method=freeze", "freeze.trainable_layers=1", "training.learning_rate=1e-3");
        var events = new List<TrainingEvent>();
        var summary = new LoraTrainer(plan, events.Add).Run();
        Assert.True(summary.FinalAccuracy >= 0.9, $"final accuracy {summary.FinalAccuracy}");

        using (var file = SafetensorsFile.Open(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights)))
        {
            var names = file.Tensors.Select(t => t.Name).ToList();
            Assert.Contains("distilbert.transformer.layer.1.ffn.lin1.weight", names);
            Assert.Contains("classifier.weight", names);
            Assert.Contains("pre_classifier.bias", names);
            Assert.DoesNotContain(names, n => n.Contains("layer.0.", StringComparison.Ordinal) || n.Contains("embeddings", StringComparison.Ordinal));
        }
        var config = PeftAdapterConfig.Load(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterConfig));
        Assert.True(config.IsFreeze);
        Assert.Equal("SEQ_CLS", config.TaskType);
        Assert.Equal([1], config.LayersToTransform);

        // The base + the delta give the trainer's last evaluation exactly.
        var last = events.OfType<ClassificationEvaluated>().Last();
        var reloaded = FileEvaluator.EvaluateClassification(null, plan.OutputDirectory, _fixture.TestFile);
        Assert.Equal(last.Confusion, reloaded.Metrics.Confusion);
        Assert.Equal(last.Loss, reloaded.Loss, 5);

        using (var model = LoraModel.Load(plan.OutputDirectory))
        {
            Assert.Equal("positive", model.Classify("the film was wonderful").Label);
            Assert.Equal("negative", model.Classify("the film was terrible").Label);
        }

        // A LoRA adapter over the same base cannot share it with a freeze delta, in either order.
        var lora = _fixture.Plan(_fixture.Recipe("lora", epochs: 1));
        new LoraTrainer(lora).Run();
        var mixed = Assert.Throws<AdapterLoadException>(() => LoraModel.LoadMany([plan.OutputDirectory, lora.OutputDirectory]));
        Assert.Contains("method: freeze delta replaces the base model's own tensors", mixed.Message);
        using var loraFirst = LoraModel.Load(lora.OutputDirectory);
        var late = Assert.Throws<AdapterLoadException>(() => loraFirst.LoadAdapter(plan.OutputDirectory));
        Assert.Contains("does not coexist with other adapters", late.Message);
    }
}
