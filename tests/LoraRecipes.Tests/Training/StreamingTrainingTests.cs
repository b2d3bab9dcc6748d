using System.Security.Cryptography;
using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Training;

/// <summary>
/// Training from the memory-mapped token cache equals training from examples in memory: the same examples in the
/// same order, so the same adapter bytes; and the cache file is unmapped when the run ends.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class StreamingTrainingTests : IDisposable
{
    private readonly TrainingFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingFromTheTokenCacheGivesTheSameAdapterBytesAsFromMemory(bool packing)
    {
        string recipe = _fixture.Recipe(maxSteps: 3);
        string cacheFolder = Path.Combine(_fixture.Directory, "token-cache");
        string[] settings = ["training.gradient_accumulation=2", "training.batch_size=4", $"data.packing={(packing ? "true" : "false")}"];
        var inMemory = _fixture.Plan(recipe, [.. settings, "output.dir=out/memory"]);
        var firstCached = _fixture.Plan(recipe, [.. settings, "output.dir=out/encoded"]);
        var secondCached = _fixture.Plan(recipe, [.. settings, "output.dir=out/mapped"]);

        var memorySummary = new LoraTrainer(inMemory, options: new TrainerOptions { CacheTokens = false }).Run();
        Assert.False(Directory.Exists(cacheFolder));
        new LoraTrainer(firstCached, options: new TrainerOptions { TokenCacheDirectory = cacheFolder }).Run();    // encodes into the cache
        string cacheFile = Assert.Single(Directory.GetFiles(cacheFolder, "*.tokens"));
        var mappedSummary = new LoraTrainer(secondCached, options: new TrainerOptions { TokenCacheDirectory = cacheFolder }).Run();   // maps it

        string expected = Hash(inMemory);
        Assert.Equal(expected, Hash(firstCached));
        Assert.Equal(expected, Hash(secondCached));
        Assert.Equal(memorySummary.FinalValidationLoss, mappedSummary.FinalValidationLoss);
        Assert.Equal(memorySummary.TrainedTokens, mappedSummary.TrainedTokens);
        if (OperatingSystem.IsLinux()) Assert.DoesNotContain(cacheFile, File.ReadAllText("/proc/self/maps"));
    }

    [Fact]
    public void LoadedDataFromTheCacheIsViewsOverOneMappedFileAndEqualsTheInMemoryLoad()
    {
        // max_length 115 drops the English records: the filter and the split are views, and match the in-memory path.
        var plan = _fixture.Plan(_fixture.Recipe(), "data.max_length=115");
        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        var tokenizer = ModelLoader.Load(folder).Tokenizer;
        using var plain = TrainingData.Load(plan, tokenizer);
        using var cached = TrainingData.Load(plan, tokenizer, new TokenCache(Path.Combine(_fixture.Directory, "cache")), folder);
        Assert.Empty(plain.Owned);
        Assert.IsType<CachedExamples>(Assert.Single(cached.Owned));
        Assert.IsType<ExampleSubset>(cached.Train);
        Assert.IsType<ExampleSubset>(cached.Validation);
        Assert.Equal(plain.Warnings, cached.Warnings);
        Assert.Single(plain.Warnings);   // the dropped records
        Assert.Equal(Flat(plain.Train), Flat(cached.Train));
        Assert.Equal(Flat(plain.Validation), Flat(cached.Validation));
    }

    private static string Flat(IEnumerable<TokenizedExample> examples) =>
        string.Join(";", examples.Select(e => $"{e.RecordNumber}:{string.Join(",", e.InputIds)}/{string.Join(",", e.Labels)}"));

    private static string Hash(Recipes.TrainingPlan plan) =>
        Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(plan.OutputDirectory, "adapter_model.safetensors"))));
}
