using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Tests.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Evaluation;

/// <summary>
/// <see cref="CausalLoss.FromHidden"/> (head only at scored positions, chunked, gradient carried back by hand) against
/// the plain path: full (B, T, V) logits, <see cref="CausalLoss.Sum"/>, one autograd backward.
/// </summary>
[Collection(LoraRecipes.Tests.Models.GlobalTorchStateCollection.Name)]
public class HeadLossTests
{
    private static (LlamaForCausalLM Model, IReadOnlyList<LoraLinear> Lora) Adapted(ScalarType dtype = ScalarType.Float32)
    {
        var model = TinyModels.Create(TinyModels.Config(tied: false));
        if (dtype != ScalarType.Float32) model.to(dtype);
        manual_seed(7);
        var wrapped = LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["q_proj", "v_proj", "down_proj"]));
        using (no_grad()) foreach (var l in wrapped.Values) l.B.copy_(randn_like(l.B) * 0.1);
        model.train();
        return (model, wrapped.Values.ToList());
    }

    private static List<Tensor> Grads(IEnumerable<LoraLinear> lora) => lora.SelectMany(l => new[] { l.A.grad!.clone(), l.B.grad!.clone() }).ToList();

    private static void ZeroGrads(nn.Module model)
    {
        foreach (var p in model.parameters()) p.grad = null;
    }

    /// <summary>Ragged lengths (padding) and a masked prompt third: about half the positions are not scored.</summary>
    private static Batch RaggedBatch() => Batch.Collate(PackingTests.Examples([13, 7, 20, 16], seed: 3), padId: 0);

    /// <summary>Loss and LoRA gradients of the plain path, then of <see cref="CausalLoss.FromHidden"/>, on the same batch.</summary>
    private static (double Plain, List<Tensor> PlainGrads, double Head, long Scored, List<Tensor> HeadGrads) BothPaths(
        LlamaForCausalLM model, IReadOnlyList<LoraLinear> lora, Batch batch, long chunkRows)
    {
        long scored = CausalLoss.ScoredTokens(batch.Labels);
        var plain = CausalLoss.Sum(batch.Logits(model), batch.Labels);
        (plain / scored).backward();
        var plainGrads = Grads(lora);
        ZeroGrads(model);
        using var head = CausalLoss.FromHidden(model, batch.Hidden(model), batch.Labels, gradScale: 1.0 / scored, chunkRows: chunkRows);
        head.Backward();
        var headGrads = Grads(lora);
        ZeroGrads(model);
        Assert.All(plainGrads, g => Assert.True(g.abs().max().item<float>() > 0, "the plain gradient is not trivially zero"));
        return (plain.item<float>(), plainGrads, head.Sum, head.Scored, headGrads);
    }

    [Theory]
    [InlineData(1L << 20)]   // one chunk
    [InlineData(5L)]         // many chunks, the last one short
    [InlineData(1L)]         // one row per chunk
    public void LossAndLoraGradientsEqualThePlainPath(long chunkRows)
    {
        var (model, lora) = Adapted();
        using var _ = model;
        using var batch = RaggedBatch();
        var r = BothPaths(model, lora, batch, chunkRows);
        Assert.Equal(CausalLoss.ScoredTokens(batch.Labels), r.Scored);
        Assert.True(Math.Abs(r.Head - r.Plain) <= 1e-5 * Math.Abs(r.Plain), $"head loss {r.Head} vs plain {r.Plain}");
        for (int i = 0; i < r.PlainGrads.Count; i++)
            Assert.True(r.HeadGrads[i].allclose(r.PlainGrads[i], rtol: 1e-4, atol: 1e-7), $"gradient {i} differs: max |Δ| {(r.HeadGrads[i] - r.PlainGrads[i]).abs().max().item<float>()}");
    }

    [Fact]
    public void PackedRowsGiveThePlainPathsLossAndGradients()
    {
        var (model, lora) = Adapted();
        using var _ = model;
        var rows = SequencePacker.Pack(PackingTests.Examples([11, 6, 17, 9, 4, 13], seed: 1), maxLength: 32);
        using var batch = Batch.Collate(rows, padId: 0);
        Assert.NotNull(batch.PositionIds);
        var r = BothPaths(model, lora, batch, chunkRows: 7);
        Assert.True(Math.Abs(r.Head - r.Plain) <= 1e-5 * Math.Abs(r.Plain));
        for (int i = 0; i < r.PlainGrads.Count; i++) Assert.True(r.HeadGrads[i].allclose(r.PlainGrads[i], rtol: 1e-4, atol: 1e-7), $"gradient {i} differs");
    }

    [Fact]
    public void EvaluationComputesTheSumWithoutGradients()
    {
        var (model, lora) = Adapted();
        using var _ = model;
        using var batch = RaggedBatch();
        double plain;
        using (no_grad()) plain = CausalLoss.Sum(batch.Logits(model), batch.Labels).item<float>();
        using (inference_mode())
        {
            using var head = CausalLoss.FromHidden(model, batch.Hidden(model), batch.Labels, chunkRows: 3);
            head.Backward();   // nothing to carry back: a no-op
            Assert.True(Math.Abs(head.Sum - plain) <= 1e-5 * Math.Abs(plain));
        }
        Assert.All(lora, l => Assert.Null(l.A.grad));
    }

    [Fact]
    public void ABatchWithNoScoredTokenGivesZeroAndLeavesNoGradient()
    {
        var (model, lora) = Adapted();
        using var _ = model;
        var example = new TokenizedExample([5, 6, 7, 8], [ExampleEncoder.IgnoreIndex, ExampleEncoder.IgnoreIndex, ExampleEncoder.IgnoreIndex, ExampleEncoder.IgnoreIndex], 0);
        using var batch = Batch.Collate([example], padId: 0);
        using var head = CausalLoss.FromHidden(model, batch.Hidden(model), batch.Labels);
        head.Backward();
        Assert.Equal(0, head.Scored);
        Assert.Equal(0.0, head.Sum);
        Assert.All(lora, l => Assert.Null(l.A.grad));
    }

    [Fact]
    public void Bf16BaseMatchesThePlainBf16Path()
    {
        var (model, lora) = Adapted(ScalarType.BFloat16);
        using var _ = model;
        using var batch = RaggedBatch();
        var r = BothPaths(model, lora, batch, chunkRows: 5);
        // Same ops on the same rows; bf16 matmuls over fewer rows may round differently in the last bit.
        Assert.True(Math.Abs(r.Head - r.Plain) <= 1e-3 * Math.Abs(r.Plain));
        for (int i = 0; i < r.PlainGrads.Count; i++)
        {
            double cos = nn.functional.cosine_similarity(r.HeadGrads[i].flatten(), r.PlainGrads[i].flatten(), dim: 0).item<float>();
            Assert.True(cos > 0.999, $"gradient {i}: cosine {cos}");
        }
    }

    [Theory]
    [InlineData(1.0, 1.0)]
    [InlineData(30.0, 0.0625)]   // logits spread over ±100: exp would overflow without subtracting the row max
    public void InPlaceCrossEntropyGivesAutogradsLossAndGradient(double spread, double scale)
    {
        var logits = randn(new long[] { 9, 53 }, generator: new Generator(3)) * spread;
        var targets = randint(0, 53, new long[] { 9 }, generator: new Generator(4));
        var leaf = logits.clone().requires_grad_(true);
        var reference = nn.functional.cross_entropy(leaf, targets, reduction: nn.Reduction.Sum);
        (reference * scale).backward();
        var buffer = logits.clone();
        double loss = HeadLoss.CrossEntropyInPlace(buffer, targets, scale);
        Assert.True(Math.Abs(loss - reference.item<float>()) <= 1e-5 * Math.Abs(reference.item<float>()), $"loss {loss} vs {reference.item<float>()}");
        Assert.True(buffer.allclose(leaf.grad!, rtol: 1e-5, atol: 1e-7), $"max |Δ| {(buffer - leaf.grad!).abs().max().item<float>()}");
        // Each row's gradient sums to zero (softmax sums to 1, minus the one-hot): checks the in-place pass left no logit behind.
        Assert.True(buffer.sum(1).abs().max().item<float>() < 1e-5 * scale);
    }

    [Fact]
    public void ATrainedHeadWeightGetsThePlainPathsGradient()
    {
        // method: freeze with train_head trains lm_head itself: its weight's gradient goes through the in-place logits gradient too.
        var (model, lora) = Adapted();
        using var _ = model;
        var head = model.named_parameters().First(p => p.name == "lm_head.weight").parameter;
        head.requires_grad_(true);
        using var batch = RaggedBatch();
        var r = BothPaths(model, lora, batch, chunkRows: 6);
        Assert.True(Math.Abs(r.Head - r.Plain) <= 1e-5 * Math.Abs(r.Plain));
        long scored = CausalLoss.ScoredTokens(batch.Labels);
        (CausalLoss.Sum(batch.Logits(model), batch.Labels) / scored).backward();
        var plainHead = head.grad!.clone();
        ZeroGrads(model);
        using (var loss = CausalLoss.FromHidden(model, batch.Hidden(model), batch.Labels, gradScale: 1.0 / scored, chunkRows: 6)) loss.Backward();
        Assert.True(plainHead.abs().max().item<float>() > 0);
        Assert.True(head.grad!.allclose(plainHead, rtol: 1e-4, atol: 1e-7), $"max |Δ| {(head.grad! - plainHead).abs().max().item<float>()}");
    }
}
