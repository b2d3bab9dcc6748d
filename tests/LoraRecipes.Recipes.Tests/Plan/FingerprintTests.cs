namespace LoraRecipes.Recipes.Tests.Plan;

/// <summary>The fingerprint decides whether MSBuild retrains: it must move exactly when the training would change.</summary>
public sealed class FingerprintTests : IDisposable
{
    private static readonly PlanOptions Options = new() { ToolVersion = "test-1" };

    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Fingerprint(string path, IReadOnlyList<string>? overrides = null, PlanOptions? options = null)
    {
        var result = RecipeLoader.LoadPlan(path, overrides, options ?? Options);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Plan!.Fingerprint;
    }

    private string WriteFolderModelRecipe()
    {
        _dir.Write("model/config.json", """{"model_type":"llama"}""");
        _dir.Write("model/model.safetensors", "weights");
        return _dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe.Replace("builtin:tiny-llama", "model"));
    }

    [Fact]
    public void Stable_across_resolutions()
    {
        var path = WriteFolderModelRecipe();

        Assert.Equal(Fingerprint(path), Fingerprint(path));
    }

    [Fact]
    public void Changes_when_any_byte_of_a_data_file_changes()
    {
        var path = _dir.WriteRecipeWithData();
        var data = Path.Combine(_dir.Root, "data", "train.jsonl");
        var before = Fingerprint(path);
        var bytes = File.ReadAllBytes(data);

        bytes[^2] ^= 1; // one bit, same length
        File.WriteAllBytes(data, bytes);

        Assert.NotEqual(before, Fingerprint(path));
    }

    [Fact]
    public void Changes_when_a_model_weight_file_changes()
    {
        var path = WriteFolderModelRecipe();
        var before = Fingerprint(path);

        File.WriteAllText(Path.Combine(_dir.Root, "model", "model.safetensors"), "weightz");

        Assert.NotEqual(before, Fingerprint(path));
    }

    [Fact]
    public void Unchanged_when_a_file_is_touched_but_identical()
    {
        var path = WriteFolderModelRecipe();
        var before = Fingerprint(path);

        var data = Path.Combine(_dir.Root, "data", "train.jsonl");
        File.WriteAllBytes(data, File.ReadAllBytes(data));
        File.SetLastWriteTimeUtc(data, DateTime.UtcNow.AddDays(1));
        File.SetLastWriteTimeUtc(Path.Combine(_dir.Root, "model", "model.safetensors"), DateTime.UtcNow.AddDays(-1));

        Assert.Equal(before, Fingerprint(path));
    }

    [Fact]
    public void Unchanged_when_the_whole_folder_moves()
    {
        var before = Fingerprint(WriteFolderModelRecipe());

        _dir.MoveTo(_dir.Root + "-moved");

        Assert.Equal(before, Fingerprint(Path.Combine(_dir.Root, "recipe.yaml")));
    }

    [Fact]
    public void Unchanged_by_the_output_dir()
    {
        var path = _dir.WriteRecipeWithData();

        Assert.Equal(Fingerprint(path), Fingerprint(path, ["output.dir=somewhere/else"], Options with { OutputDirOverride = "/tmp/x" }));
    }

    [Fact]
    public void Changes_with_an_override_that_changes_the_recipe()
    {
        var path = _dir.WriteRecipeWithData();

        Assert.NotEqual(Fingerprint(path), Fingerprint(path, ["lora.r=8"]));
    }

    [Fact]
    public void Unchanged_by_an_override_that_sets_the_default()
    {
        var path = _dir.WriteRecipeWithData();

        Assert.Equal(Fingerprint(path), Fingerprint(path, ["lora.r=4"]));
    }

    [Fact]
    public void Changes_with_tool_version_and_builtin_generator_version()
    {
        var path = _dir.WriteRecipeWithData();
        var baseline = Fingerprint(path);

        Assert.NotEqual(baseline, Fingerprint(path, options: Options with { ToolVersion = "test-2" }));
        Assert.NotEqual(baseline, Fingerprint(path, options: Options with { BuiltinModelVersion = "2" }));
    }

    [Fact]
    public void Canonical_json_has_relative_paths_and_no_output_dir()
    {
        var path = WriteFolderModelRecipe();
        var plan = RecipeLoader.LoadPlan(path, null, Options).Plan!;

        var json = PlanWriter.ToCanonicalJson(plan);

        Assert.DoesNotContain(_dir.Root, json);
        Assert.DoesNotContain("artifacts", json);
        Assert.Contains("\"train\":\"data/train.jsonl\"", json);
        Assert.Contains("\"learning_rate\":0.0002", json);
        Assert.StartsWith("{\"base_model\":{\"kind\":\"folder\",\"name\":\"model\"", json);
    }
}
