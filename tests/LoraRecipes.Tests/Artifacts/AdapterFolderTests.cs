using LoraRecipes.Artifacts;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Artifacts;

/// <summary>One tiny adapter trained once (recipe with two overrides, no evaluation).</summary>
public sealed class TrainedAdapter : IDisposable
{
    private readonly TrainingFixture _fixture = new(records: 12);

    public TrainedAdapter()
    {
        Plan = _fixture.Plan(_fixture.Recipe(maxSteps: 1), "lora.alpha=16", "evaluation.every=never");
        new LoraTrainer(Plan).Run();
    }

    public string Directory => _fixture.Directory;
    public Recipes.TrainingPlan Plan { get; }

    public void Dispose() => _fixture.Dispose();
}

/// <summary>The trained folder opened whole, then copies of it with parts taken away.</summary>
public sealed class AdapterFolderTests : IClassFixture<TrainedAdapter>, IDisposable
{
    private readonly TrainedAdapter _trained;
    private readonly string _copy;

    public AdapterFolderTests(TrainedAdapter trained)
    {
        _trained = trained;
        // Each test damages its own copy.
        _copy = Path.Combine(trained.Directory, "copy-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(_copy);
        foreach (string file in System.IO.Directory.GetFiles(trained.Plan.OutputDirectory)) File.Copy(file, Path.Combine(_copy, Path.GetFileName(file)));
    }

    private Recipes.TrainingPlan Trained => _trained.Plan;
    private string Root => _trained.Directory;

    public void Dispose() => Directory.Delete(_copy, recursive: true);

    [Fact]
    public void ATrainedFolderOpensWithConfigManifestProvenanceRecipeAndFormatter()
    {
        var folder = AdapterFolder.Open(Trained.OutputDirectory);
        Assert.Equal((4, 16.0, 4.0), (folder.Config.R, folder.Config.LoraAlpha, folder.Config.Scaling));   // alpha / r
        Assert.Equal(LoraManifest.CurrentFormatVersion, folder.Manifest!.FormatVersion);
        Assert.Equal(Trained.Fingerprint, folder.Manifest.Fingerprint);
        Assert.Equal(Trained.RecipePath, folder.Manifest.Provenance!.SourceRecipe);
        Assert.Equal(["lora.alpha=16", "evaluation.every=never"], folder.Manifest.Provenance.Overrides!);
        Assert.Equal(16, folder.Recipe!.Lora.Alpha);
        Assert.Equal("builtin:tiny-llama", folder.BaseModel());
        Assert.Equal("other", folder.BaseModel("other"));

        var (model, adapters) = folder.Load();
        using (model)
        {
            // What the trainer wrapped (counted when writing the manifest), every one with a q_proj/v_proj path.
            Assert.Equal(folder.Manifest.Adapter!.Modules, adapters.Count);
            Assert.All(adapters.Keys, k => Assert.True(k.EndsWith(".q_proj", StringComparison.Ordinal) || k.EndsWith(".v_proj", StringComparison.Ordinal), k));
            Assert.Equal("alpaca", folder.Formatter(model.Tokenizer)!.Name);
            Assert.Equal("chatml", folder.Formatter(model.Tokenizer, "chatml")!.Name);
        }
    }

    [Fact]
    public void AFolderWithoutOurFilesIsAPeftAdapterWithNoRecipeOrFormatter()
    {
        File.Delete(Path.Combine(_copy, ArtifactFiles.Manifest));
        File.Delete(Path.Combine(_copy, ArtifactFiles.ResolvedRecipe));
        var folder = AdapterFolder.Open(_copy);
        Assert.Null(folder.Manifest);
        Assert.Null(folder.Recipe);
        var (model, _) = folder.Load();
        using (model) Assert.Null(folder.Formatter(model.Tokenizer));
    }

    [Fact]
    public void AMissingWeightsFileIsNamedWithTheCommandThatTrainsItAgain()
    {
        string weights = Path.Combine(_copy, ArtifactFiles.AdapterWeights);
        File.Delete(weights);
        var ex = Assert.Throws<AdapterLoadException>(() => AdapterFolder.Open(_copy));
        Assert.StartsWith(weights + ": ", ex.Message);
        Assert.Contains("the folder is incomplete", ex.Message);
        Assert.Contains($"dotnet lora run {Trained.RecipePath} --set lora.alpha=16 --set evaluation.every=never", ex.Message);
        // What inspect and verify read: the manifest is enough.
        Assert.NotNull(AdapterFolder.Open(_copy, requireAdapter: false).Manifest);
    }

    [Fact]
    public void AMissingConfigIsNamedToo()
    {
        string config = Path.Combine(_copy, ArtifactFiles.AdapterConfig);
        File.Delete(config);
        var ex = Assert.Throws<AdapterLoadException>(() => AdapterFolder.Open(_copy));
        Assert.StartsWith(config + ": adapter_config.json not found; the folder is incomplete", ex.Message);
        var partial = AdapterFolder.Open(_copy, requireAdapter: false);
        Assert.False(partial.HasConfig);
        Assert.Throws<AdapterLoadException>(() => partial.Config);
    }

    [Fact]
    public void NoFolderOrAnUnrelatedFolderSaysWhatAnArtifactFolderIs()
    {
        string missing = Path.Combine(Root, "nowhere");
        Assert.Contains("no such folder", Assert.Throws<AdapterLoadException>(() => AdapterFolder.Open(missing)).Message);
        string empty = Directory.CreateDirectory(Path.Combine(Root, "empty")).FullName;
        Assert.Contains("neither adapter_config.json nor lora-manifest.json", Assert.Throws<AdapterLoadException>(() => AdapterFolder.Open(empty, requireAdapter: false)).Message);
    }

    [Fact]
    public void ABrokenManifestIsAnAdapterLoadErrorNamingIt()
    {
        string manifest = Path.Combine(_copy, ArtifactFiles.Manifest);
        File.WriteAllText(manifest, """{"steps": "many"}""");
        var ex = Assert.Throws<AdapterLoadException>(() => AdapterFolder.Open(_copy));
        Assert.StartsWith(manifest + ": invalid manifest at $.steps", ex.Message);
    }
}
