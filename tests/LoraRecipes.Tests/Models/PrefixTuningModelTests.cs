using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Tests.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

/// <summary>
/// PEFT's prefix tuning on every family that takes past keys and values, against independent computations:
/// <list type="bullet">
/// <item>Decoders: a prefix equal to the keys and values the plain model caches for real tokens P makes the prefixed model
/// on x the plain model on [P ; x] — which checks PEFT's flat layout (n, L·2·token_dim), that prefix keys are not rotated
/// again, that the tokens continue at position n (RoPE or learned positions) and the causal mask after a prefix.</item>
/// <item>BERT: a hand-written forward (embeddings at positions n.., per-layer cat of prefix keys/values, masked softmax,
/// post-norm layers, pooler, head) from the model's own parameters.</item>
/// </list>
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class PrefixTuningModelTests
{
    private static readonly long[] PrefixIds = [3, 11, 7, 5];   // P: n = 4 real tokens whose cache becomes the prefix

    private static void Close(Tensor expected, Tensor actual, double tolerance = 1e-5) => TensorAssert.Close(expected, actual, tolerance);

    /// <summary>
    /// PEFT's flat prefix written out by hand from a cache: row i is [K₀ᵢ, V₀ᵢ, K₁ᵢ, V₁ᵢ, …], each (kv_heads · head_dim) with
    /// heads outermost — what <c>view(n, 2L, heads, hd).permute(2L, heads, n, hd)</c> reads back.
    /// </summary>
    private static Tensor FlatFromCache(KvCache cache, int layers)
    {
        var parts = new List<Tensor>();
        for (int l = 0; l < layers; l++)
        {
            var (k, v) = cache.Layer(l);                                    // (1, kvh, n, hd)
            foreach (var t in new[] { k, v }) parts.Add(t[0].permute(1, 0, 2).reshape(t.shape[2], -1));   // (n, kvh·hd)
        }
        return cat(parts, dim: 1);                                          // (n, L·2·kvh·hd)
    }

    /// <summary>Attaches a prefix holding the plain model's cache of <see cref="PrefixIds"/>; returns a switch back to the base.</summary>
    private static Action<bool> PrefixFromTokens(nn.Module model, Func<Tensor, KvCache, Tensor> hidden, int layers)
    {
        var host = (IPrefixHost)model;
        Tensor flat;
        using (no_grad())
        using (var cache = new KvCache(layers))
        using (var ids = tensor(PrefixIds).unsqueeze(0))
        {
            using var _ = hidden(ids, cache);
            flat = FlatFromCache(cache, layers).detach().clone();
        }
        Assert.Equal(host.Prefix.FlatWidth, flat.shape[1]);
        var encoder = new PrefixEncoder(PrefixIds.Length, host.Prefix.TokenDim, host.Prefix.FlatWidth, null, CPU, init: flat);
        PromptInjector.AttachPrefix(model, host, encoder);
        var source = host.Prefix.Source;
        return on => (host.Prefix.Source, host.Prefix.Count) = on ? (source, PrefixIds.Length) : (null, 0);
    }

    private static Tensor WithPrefix(Tensor ids) => cat(new[] { tensor(PrefixIds).unsqueeze(0).expand(ids.shape[0], PrefixIds.Length), ids }, dim: 1);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LlamaWithTheCacheOfRealTokensAsPrefixIsTheBaseOnThoseTokensThenX(bool gqa)
    {
        using var model = TinyModels.Create(TinyModels.Config(gqa: gqa));
        model.eval();
        var use = PrefixFromTokens(model, (ids, cache) => model.Hidden(ids, cache), model.NumLayers);
        using var ids = TinyModels.Ids(2, 6);
        using var next = tensor(new long[] { 9, 2 }).unsqueeze(1);
        using var guard = no_grad();
        use(true);
        using var prefixed = model.forward(ids);                                   // (B, T, V): training/evaluation path, no cache
        using var cache = new KvCache(model.NumLayers);
        using var prefill = model.Head(model.Hidden(ids, cache));                  // generation: the prefix seeds the cache
        Assert.Equal(PrefixIds.Length + 6, cache.Length);
        using var step = model.Head(model.Hidden(next, cache));
        use(false);
        using var whole = model.forward(cat(new[] { WithPrefix(ids), next }, dim: 1));   // (B, n + T + 1, V)
        Close(whole[.., PrefixIds.Length..^1], prefixed);
        Close(whole[.., PrefixIds.Length..^1], prefill);
        Close(whole[.., ^1..], step);
        using var plain = model.forward(ids);
        Assert.False(plain.allclose(prefixed, 1e-4, 1e-4));                       // the prefix does change the result
    }

    [Fact]
    public void Gpt2WithTheCacheOfRealTokensAsPrefixIsTheBaseOnThoseTokensThenX()
    {
        manual_seed(5);
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2Config());
        model.eval();
        var use = PrefixFromTokens(model, (ids, cache) => model.Hidden(ids, cache), model.NumLayers);
        using var ids = TinyModels.Ids(2, 5, vocab: 40);
        using var next = tensor(new long[] { 2, 8 }).unsqueeze(1);
        using var guard = no_grad();
        use(true);
        using var prefixed = model.forward(ids);
        using var cache = new KvCache(model.NumLayers);
        using var prefill = model.Head(model.Hidden(ids, cache));
        using var step = model.Head(model.Hidden(next, cache));
        use(false);
        using var whole = model.forward(cat(new[] { WithPrefix(ids), next }, dim: 1));
        Close(whole[.., PrefixIds.Length..^1], prefixed);
        Close(whole[.., PrefixIds.Length..^1], prefill);
        Close(whole[.., ^1..], step);
    }

    [Fact]
    public void LlamaClassifierWithAPrefixPoolsTheLastRealTokenOfRightPaddedRows()
    {
        var config = TinyModels.Config() with { Labels = ["a", "b", "c"] };
        manual_seed(3);
        using var model = new LlamaForSequenceClassification(config);
        model.eval();
        var use = PrefixFromTokens(model, (ids, cache) => Hidden(model, ids, cache), config.NumHiddenLayers);
        using var ids = TinyModels.Ids(2, 6);
        using var mask = tensor(new long[,] { { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 0, 0, 0 } });
        using var guard = no_grad();
        use(true);
        using var prefixed = model.Classify(ids, mask);
        use(false);
        using var full = model.Classify(WithPrefix(ids), cat(new[] { ones(2, PrefixIds.Length, dtype: ScalarType.Int64), mask }, dim: 1));
        Close(full, prefixed);
    }

    /// <summary>The classifier's decoder on a cache (its LlamaModel is private): the cache is what the test needs.</summary>
    private static Tensor Hidden(LlamaForSequenceClassification model, Tensor ids, KvCache cache)
    {
        var decoder = model.named_children().Select(c => c.module).OfType<LlamaModel>().Single();
        return decoder.Forward(ids, cache);
    }

    [Fact]
    public void BertClassifierIsTheHandWrittenForwardWithPrefixKeysValuesAndPositionsFromN()
    {
        var config = TinyModels.EncoderConfig("bert");
        manual_seed(9);
        using var model = (BertForSequenceClassification)ModelFamilies.CreateForSequenceClassification(config);
        model.eval();
        const int n = 3, layers = 2, heads = 2, hidden = 16, hd = 8;
        using var flat = randn(n, layers * 2 * hidden);                          // BERT: kv heads = heads, token_dim = hidden
        var encoder = new PrefixEncoder(n, hidden, layers * 2 * hidden, null, CPU, init: flat);
        PromptInjector.AttachPrefix(model, model, encoder);
        using var ids = TinyModels.Ids(2, 6, vocab: 40);
        using var mask = tensor(new long[,] { { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 0, 0 } });
        using var guard = no_grad();
        using var actual = model.Classify(ids, mask);

        var w = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        Tensor Linear(Tensor x, string name) => nn.functional.linear(x, w[name + ".weight"], w[name + ".bias"]);
        Tensor Norm(Tensor x, string name) => nn.functional.layer_norm(x, [hidden], w[name + ".weight"], w[name + ".bias"], 1e-12);
        var x = w["bert.embeddings.word_embeddings.weight"].index_select(0, ids.flatten()).view(2, 6, hidden)
            + w["bert.embeddings.position_embeddings.weight"].index_select(0, arange(n, n + 6))    // positions n..n+T−1
            + w["bert.embeddings.token_type_embeddings.weight"][0];
        x = Norm(x, "bert.embeddings.LayerNorm");
        using var keep = cat(new[] { ones(2, n, dtype: ScalarType.Int64), mask }, dim: 1).to(ScalarType.Float32);   // (B, n + T): the prefix is always attended
        using var additive = (ones_like(keep) - keep) * -1e9;
        for (int l = 0; l < layers; l++)
        {
            string p = $"bert.encoder.layer.{l}";
            Tensor Split(Tensor t) => t.view(2, 6, heads, hd).transpose(1, 2);  // (B, nh, T, hd)
            // PEFT's layout: row i holds [K_l, V_l] of layer l at columns (2l)·H.. and (2l+1)·H.., heads outermost.
            var pk = flat[.., (2 * l * hidden)..((2 * l + 1) * hidden)].view(n, heads, hd).transpose(0, 1).unsqueeze(0).expand(2, heads, n, hd);
            var pv = flat[.., ((2 * l + 1) * hidden)..((2 * l + 2) * hidden)].view(n, heads, hd).transpose(0, 1).unsqueeze(0).expand(2, heads, n, hd);
            var q = Split(Linear(x, p + ".attention.self.query"));
            var k = cat(new[] { pk, Split(Linear(x, p + ".attention.self.key")) }, dim: 2);
            var v = cat(new[] { pv, Split(Linear(x, p + ".attention.self.value")) }, dim: 2);
            var scores = q.matmul(k.transpose(2, 3)) / Math.Sqrt(hd) + additive.view(2, 1, 1, n + 6);
            var context = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(2, 6, hidden);
            var a = Norm(Linear(context, p + ".attention.output.dense") + x, p + ".attention.output.LayerNorm");
            var f = Linear(nn.functional.gelu(Linear(a, p + ".intermediate.dense")), p + ".output.dense");
            x = Norm(f + a, p + ".output.LayerNorm");
        }
        var pooled = Linear(x[.., 0], "bert.pooler.dense").tanh();
        using var expected = Linear(pooled, "classifier");
        Close(expected, actual);
    }

    [Fact]
    public void DistilBertAndPackedRowsAreRefusedWithTheFix()
    {
        using var distil = (nn.Module)ModelFamilies.CreateForSequenceClassification(TinyModels.EncoderConfig("distilbert"));
        var refused = Assert.Throws<LoraTargetException>(() => PromptInjector.PrefixHostOf(distil));
        Assert.Contains("Use prompt_tuning, p_tuning or lora", refused.Message);

        using var model = TinyModels.Create();
        var encoder = new PrefixEncoder(2, model.Prefix.TokenDim, model.Prefix.FlatWidth, null, CPU);
        PromptInjector.AttachPrefix(model, model, encoder);
        using var ids = TinyModels.Ids(1, 4);
        using var positions = arange(4).unsqueeze(0);
        using var mask = ones(1, 1, 4, 4, dtype: ScalarType.Bool);
        var packed = Assert.Throws<NotSupportedException>(() => model.Hidden(ids, positions, mask));
        Assert.Contains("data.packing: false", packed.Message);
        Assert.Throws<InvalidOperationException>(() => PromptInjector.AttachPrefix(model, model, encoder));   // one prompt-learning adapter per model
    }

    [Fact]
    public void ProjectionIsPeftsTanhMlpOverTheTokenTableAndTrainsThroughIt()
    {
        using var generator = new Generator(7);
        using var encoder = new PrefixEncoder(5, 12, 48, 10, CPU, generator);
        var p = encoder.named_parameters().ToDictionary(x => x.name, x => (Tensor)x.parameter);
        Assert.Equal(new[] { "embedding.weight", "transform.0.bias", "transform.0.weight", "transform.2.bias", "transform.2.weight" }, p.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { 5, 12 }, p["embedding.weight"].shape);
        using var expected = nn.functional.linear(nn.functional.linear(p["embedding.weight"], p["transform.0.weight"], p["transform.0.bias"]).tanh(),
            p["transform.2.weight"], p["transform.2.bias"]);
        using var prefix = encoder.Prefix();
        Close(expected, prefix, 1e-6);
        // PEFT's count: n·token_dim + (token_dim·h + h) + (h·L·2·token_dim + L·2·token_dim).
        Assert.Equal(5 * 12 + (12 * 10 + 10) + (10 * 48 + 48), encoder.TrainableParameterCount);
        prefix.sum().backward();
        Assert.True(p["embedding.weight"].grad is { } g && g.abs().sum().item<float>() > 0);
        var saved = Assert.Single(encoder.SavedTensors());
        Assert.Equal("prompt_embeddings", saved.Name);
        Close(expected.detach(), saved.Value, 1e-6);
        Assert.Throws<NotSupportedException>(() => encoder.LoadTargets().ToList());
    }
}
