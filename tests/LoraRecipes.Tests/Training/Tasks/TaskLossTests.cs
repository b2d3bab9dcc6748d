using LoraRecipes.Data;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Training;
using LoraRecipes.Training.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Training.Tasks;

/// <summary>
/// Each task's loss, run through <see cref="TrainingStep"/> with gradient accumulation over unequal, padded micro-batches,
/// against an independent computation: every example alone (no padding, no chunking), full logits, cross-entropy written out
/// as −log softmax, averaged over the update's units; and the gradient norm of that mean.
/// </summary>
[Collection(GlobalRngCollection.Name)]   // TinyModels.Create seeds and draws from the global RNG
public sealed class TaskLossTests
{
    /// <summary>(mean loss, gradient norm of the mean) by the reference path; the gradients are zeroed after.</summary>
    private static (double Loss, double GradNorm) Reference(AdamW optimizer, IReadOnlyList<TokenizedExample> examples, Func<TokenizedExample, (Tensor Sum, long Units)> lossOf)
    {
        Tensor total = zeros(1, dtype: ScalarType.Float64);
        long units = 0;
        foreach (var e in examples)
        {
            var (sum, n) = lossOf(e);
            total = total + sum.to(ScalarType.Float64);
            units += n;
        }
        var mean = total / units;
        mean.backward();
        double norm = Math.Sqrt(optimizer.Parameters.Sum(p => p.grad is { } g ? g.to(ScalarType.Float64).pow(2).sum().item<double>() : 0));
        optimizer.ZeroGrad();
        return (mean.item<double>(), norm);
    }

    /// <summary>−log softmax(logits)[target], summed over the rows whose target is not −100.</summary>
    private static (Tensor Sum, long Units) NegativeLogLikelihood(Tensor logits, int[] targets)
    {
        var logp = logits.to(ScalarType.Float64).log_softmax(-1);
        Tensor sum = zeros(1, dtype: ScalarType.Float64);
        long n = 0;
        for (int i = 0; i < targets.Length; i++)
        {
            if (targets[i] == ExampleEncoder.IgnoreIndex) continue;
            sum = sum - logp[i, targets[i]];
            n++;
        }
        return (sum, n);
    }

    [Fact]
    public void CausalLmLossIsTheTokenWeightedMeanOfNextTokenCrossEntropyOverTheWholeUpdate()
    {
        using var scope = NewDisposeScope();
        var model = TinyModels.Create();
        var wrapped = LoraInjector.Inject(model, new LoraSettings(2, 4, 0.0, ["q_proj", "v_proj"], Generator: new Generator(3)));
        using (no_grad())
            foreach (var lora in wrapped.Values) lora.B.copy_(randn(lora.B.shape, generator: new Generator(5)) * 0.1);   // B ≠ 0: LoRA matters
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new AdamW(trainable, weightDecay: 0.0);
        var rng = new Random(11);
        // Unequal lengths (padding inside a batch), prompts not scored (−100), two micro-batches of 3 and 2.
        var examples = new[] { 9, 14, 6, 11, 17 }.Select((len, r) =>
        {
            var ids = Enumerable.Range(0, len).Select(_ => rng.Next(1, 64)).ToArray();
            var labels = ids.Select((id, i) => i < len / 3 ? ExampleEncoder.IgnoreIndex : id).ToArray();
            return new TokenizedExample(ids, labels, r + 1);
        }).ToList();

        var (expectedLoss, expectedNorm) = Reference(optimizer, examples, e =>
        {
            var logits = model.forward(tensor(e.InputIds.Select(i => (long)i).ToArray(), [1, e.InputIds.Length]))[0];   // (T, V)
            // The target of position t is the label at t + 1; the last position has none.
            return NegativeLogLikelihood(logits, e.Labels.Skip(1).Append(ExampleEncoder.IgnoreIndex).ToArray());
        });

        var step = new TrainingStep(CausalLmLoss.Instance, model, optimizer, padId: 0, CPU, maxGradNorm: null);
        var result = step.Run([examples.Take(3).ToList(), examples.Skip(3).ToList()], learningRate: 0.0, step: 1);

        Assert.Equal(expectedLoss, result.Loss, 4);
        Assert.Equal(expectedNorm, result.GradNorm, expectedNorm * 1e-4);
        Assert.Equal(examples.Sum(e => e.InputIds.Length), result.Tokens);
    }

    [Fact]
    public void AStepLeavesNoTensorBehind()
    {
        // Every tensor a step makes is disposed by the step: one left to the finalizer keeps its memory (a gradient, an
        // activation) alive until a GC, and a long run's resident set creeps up with it. A scope around the steps
        // catches whatever they left undisposed.
        var model = TinyModels.Create();
        LoraInjector.Inject(model, new LoraSettings(2, 4, 0.0, ["q_proj", "v_proj"], Generator: new Generator(3)));
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new AdamW(trainable, weightDecay: 0.01);
        var rng = new Random(5);
        var examples = new[] { 9, 14, 6 }.Select((len, r) =>
        {
            var ids = Enumerable.Range(0, len).Select(_ => rng.Next(1, 64)).ToArray();
            return new TokenizedExample(ids, ids, r + 1);
        }).ToList();
        var step = new TrainingStep(CausalLmLoss.Instance, model, optimizer, padId: 0, CPU, maxGradNorm: 1.0);
        step.Run([examples], 1e-3, 1);   // the optimizer's moments are made on the first step and live on

        using var scope = NewDisposeScope();
        for (int s = 2; s <= 4; s++) step.Run([examples.Take(2).ToList(), examples.Skip(2).ToList()], 1e-3, s);

        Assert.Equal(0, scope.DisposablesCount);
    }

    [Fact]
    public void ClassificationLossIsTheExampleWeightedMeanCrossEntropyOverTheWholeUpdate()
    {
        using var scope = NewDisposeScope();
        using var loaded = ModelLoader.Load(ModelLoader.ResolveFolder("builtin:tiny-distilbert"), CPU, ScalarType.Float32, sequenceClassification: true,
            labels: ["negative", "positive", "neutral"]);
        var model = loaded.Module;
        var classifier = loaded.Classifier!;
        LoraInjector.Inject(model, new LoraSettings(2, 4, 0.0, ["q_lin", "v_lin"], Generator: new Generator(3)), classifier.HeadModules);
        LoraInjector.Freeze(model, classifier.HeadModules.ToList());   // the head trains in full, as a classification run's modules_to_save
        model.eval();   // no dropout: both paths compute the same function
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new AdamW(trainable, weightDecay: 0.0);
        var rng = new Random(13);
        var examples = new[] { 7, 12, 5, 9 }.Select((len, r) =>
            new TokenizedExample([101, .. Enumerable.Range(0, len - 2).Select(_ => rng.Next(200, 900)), 102], [r % 3], r + 1)).ToList();

        var (expectedLoss, expectedNorm) = Reference(optimizer, examples, e =>
        {
            var ids = tensor(e.InputIds.Select(i => (long)i).ToArray(), [1, e.InputIds.Length]);
            return NegativeLogLikelihood(classifier.Classify(ids, ones_like(ids)), e.Labels);   // (1, L)
        });

        var step = new TrainingStep(ClassificationLoss.Instance, model, optimizer, padId: 0, CPU, maxGradNorm: null);
        var result = step.Run([examples.Take(1).ToList(), examples.Skip(1).ToList()], learningRate: 0.0, step: 1);

        Assert.Equal(expectedLoss, result.Loss, 5);
        Assert.Equal(expectedNorm, result.GradNorm, expectedNorm * 1e-4);
    }
}
