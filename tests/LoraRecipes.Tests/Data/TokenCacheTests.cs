using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Data;

/// <summary>The token cache returns exactly what encoding returns, and its key follows the data and the settings.</summary>
public sealed class TokenCacheTests : IDisposable
{
    private readonly TrainingFixture _fixture = new(records: 10);

    public void Dispose() => _fixture.Dispose();

    private static string Flat(IEnumerable<TokenizedExample> examples) =>
        string.Join(";", examples.Select(e => $"{e.RecordNumber}:{string.Join(",", e.InputIds)}/{string.Join(",", e.Labels)}"));

    [Fact]
    public void CachedExamplesEqualFreshlyEncodedOnes()
    {
        var plan = _fixture.Plan(_fixture.Recipe());
        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        var tokenizer = ModelLoader.Load(folder).Tokenizer;
        var cache = new TokenCache(Path.Combine(_fixture.Directory, "cache"));

        using var plain = TrainingData.Load(plan, tokenizer);
        using var first = TrainingData.Load(plan, tokenizer, cache, folder);    // encodes and writes
        Assert.Single(Directory.GetFiles(cache.Directory, "*.tokens"));
        using var second = TrainingData.Load(plan, tokenizer, cache, folder);   // maps it
        Assert.Equal(Flat(plain.Train), Flat(first.Train));
        Assert.Equal(Flat(plain.Train), Flat(second.Train));
        Assert.Equal(Flat(plain.Validation), Flat(second.Validation));
    }

    [Fact]
    public void KeyChangesWithTheDataTheTokenizerAndTheSettings()
    {
        string data = Path.Combine(_fixture.Directory, "data.jsonl");
        string folder = ModelLoader.ResolveFolder("builtin:tiny-llama");
        string key = TokenCache.Key(data, folder, "alpaca|Alpaca|160|False");
        Assert.Equal(key, TokenCache.Key(data, folder, "alpaca|Alpaca|160|False"));
        Assert.NotEqual(key, TokenCache.Key(data, folder, "alpaca|Alpaca|128|False"));
        Assert.NotEqual(key, TokenCache.Key(data, null, "alpaca|Alpaca|160|False"));
        File.AppendAllText(data, "{\"instruction\": \"x\", \"input\": \"\", \"output\": \"y\"}\n");
        Assert.NotEqual(key, TokenCache.Key(data, folder, "alpaca|Alpaca|160|False"));
    }
}
