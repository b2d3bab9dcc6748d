using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Tests.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

/// <summary>
/// PEFT's prompt tuning on every family, against an independent computation: virtual tokens initialised to the word
/// embeddings of real token ids v make the prompted model on x the plain base model on the ids [v ; x] (with a mask of ones
/// for v) — positions, token types, layer norm, masks, poolers and the KV cache all included, none of the slot code used.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class VirtualTokenTests
{
    private static readonly long[] Virtual = [3, 11, 7, 5];   // n = 4 real token ids the virtual tokens start as

    /// <summary>Attaches virtual tokens equal to the word embeddings of <see cref="Virtual"/>; returns a switch back to the base.</summary>
    private static Action<bool> Prompt(nn.Module model)
    {
        var host = (IVirtualTokenHost)model;
        Tensor init;
        using (no_grad())
        using (var ids = tensor(Virtual)) init = host.WordEmbeddings(ids).detach().clone();
        var embedding = new PromptEmbedding(Virtual.Length, host.TokenDim, CPU, init);
        PromptInjector.Attach(model, host, embedding, Virtual.Length, embedding.Prompts);
        var source = host.VirtualTokens.Source;
        return on => (host.VirtualTokens.Source, host.VirtualTokens.Count) = on ? (source, Virtual.Length) : (null, 0);
    }

    private static Tensor WithVirtual(Tensor ids) => cat(new[] { tensor(Virtual).unsqueeze(0).expand(ids.shape[0], Virtual.Length), ids }, dim: 1);

    private static void Close(Tensor expected, Tensor actual, double tolerance = 1e-5) => TensorAssert.Close(expected, actual, tolerance);

    [Fact]
    public void LlamaLogitsAreTheBaseOnVirtualThenTokensWithRealTokensAtPositionsNOnward()
    {
        using var model = TinyModels.Create();
        var use = Prompt(model);
        using var ids = TinyModels.Ids(2, 6);
        using var guard = no_grad();
        use(true);
        using var prompted = model.forward(ids);                          // (B, T, V)
        use(false);
        using var full = model.forward(WithVirtual(ids));                 // (B, n + T, V)
        Close(full[.., Virtual.Length..], prompted);
        Assert.Equal(0, model.named_parameters().Count(p => p.name.StartsWith("prompt_encoder.", StringComparison.Ordinal) && p.parameter.requires_grad == false));
    }

    [Fact]
    public void LlamaGenerationWithTheCacheMatchesTheBaseRecomputedOnTheWholeSequence()
    {
        // PEFT's prepare_inputs_for_generation: the virtual tokens join the prefill only; decoding steps continue at n + T.
        using var model = TinyModels.Create();
        var use = Prompt(model);
        using var ids = TinyModels.Ids(1, 5);
        using var next = tensor(new long[] { 9 }).unsqueeze(0);
        using var guard = no_grad();
        use(true);
        using var cache = new KvCache(model.NumLayers);
        using var prefill = model.Head(model.Hidden(ids, cache));         // (1, T, V)
        Assert.Equal(Virtual.Length + 5, cache.Length);
        using var step = model.Head(model.Hidden(next, cache));           // (1, 1, V)
        use(false);
        using var whole = model.forward(cat(new[] { WithVirtual(ids), next }, dim: 1));   // (1, n + T + 1, V)
        Close(whole[.., Virtual.Length..^1], prefill);
        Close(whole[.., ^1..], step);
    }

    [Fact]
    public void LlamaClassifierPoolsTheLastRealTokenAfterTheVirtualOnes()
    {
        var config = TinyModels.Config() with { Labels = ["a", "b", "c"] };
        manual_seed(3);
        using var model = new LlamaForSequenceClassification(config);
        model.eval();
        var use = Prompt(model);
        using var ids = TinyModels.Ids(2, 6);
        using var mask = tensor(new long[,] { { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 0, 0, 0 } });
        using var guard = no_grad();
        use(true);
        using var prompted = model.Classify(ids, mask);
        use(false);
        using var full = model.Classify(WithVirtual(ids), cat(new[] { ones(2, Virtual.Length, dtype: ScalarType.Int64), mask }, dim: 1));
        Close(full, prompted);
    }

    [Fact]
    public void Gpt2LogitsAndCacheMatchTheBaseOnVirtualThenTokensWithLearnedPositionsForBoth()
    {
        manual_seed(5);
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2Config());
        model.eval();
        var use = Prompt(model);
        using var ids = TinyModels.Ids(2, 5, vocab: 40);
        using var next = tensor(new long[] { 2, 8 }).unsqueeze(1);
        using var guard = no_grad();
        use(true);
        using var prompted = model.forward(ids);
        using var cache = new KvCache(model.NumLayers);
        using var prefill = model.Head(model.Hidden(ids, cache));
        using var step = model.Head(model.Hidden(next, cache));
        use(false);
        using var whole = model.forward(cat(new[] { WithVirtual(ids), next }, dim: 1));
        Close(whole[.., Virtual.Length..^1], prompted);
        Close(whole[.., Virtual.Length..^1], prefill);
        Close(whole[.., ^1..], step);
    }

    public static TheoryData<string> Encoders => new() { "bert", "distilbert" };

    [Theory]
    [MemberData(nameof(Encoders))]
    public void EncoderClassifierReadsTheFirstVirtualTokenAndMasksOnlyThePadding(string family)
    {
        // PEFT's SEQ_CLS forward: inputs_embeds = [prompts ; words], attention_mask = [ones ; mask]; BERT's pooler and
        // DistilBERT's pre_classifier then read position 0, the first virtual token.
        manual_seed(9);
        using var model = (nn.Module<Tensor, Tensor>)ModelFamilies.CreateForSequenceClassification(TinyModels.EncoderConfig(family));
        model.eval();
        var classifier = (ISequenceClassifier)model;
        var use = Prompt(model);
        using var ids = TinyModels.Ids(2, 6, vocab: 40);
        using var mask = tensor(new long[,] { { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 0, 0 } });
        using var guard = no_grad();
        use(true);
        using var prompted = classifier.Classify(ids, mask);
        use(false);
        using var full = classifier.Classify(WithVirtual(ids), cat(new[] { ones(2, Virtual.Length, dtype: ScalarType.Int64), mask }, dim: 1));
        Close(full, prompted);
        using var plain = classifier.Classify(ids, mask);
        Assert.False(plain.allclose(prompted, 1e-4, 1e-4));   // the virtual tokens do change the result
    }

    [Fact]
    public void PackedRowsAreRefusedWithTheSetting()
    {
        using var model = TinyModels.Create();
        Prompt(model)(true);
        using var ids = TinyModels.Ids(1, 4);
        using var positions = arange(4).unsqueeze(0);
        using var mask = ones(1, 1, 4, 4, dtype: ScalarType.Bool);
        var error = Assert.Throws<NotSupportedException>(() => model.Hidden(ids, positions, mask));
        Assert.Contains("data.packing: false", error.Message);
    }
}
