namespace LoraRecipes.Recipes.Tests.Plan;

public sealed class TrainingPlanTests : IDisposable
{
    private static readonly PlanOptions Options = new() { ToolVersion = "test-1" };

    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static TrainingPlan Plan(string path, IReadOnlyList<string>? overrides = null, PlanOptions? options = null)
    {
        var result = RecipeLoader.LoadPlan(path, overrides, options ?? Options);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    [Fact]
    public void Paths_are_absolute_and_resolved_against_the_recipe_folder()
    {
        var path = _dir.WriteRecipeWithData();

        var plan = Plan(path);

        Assert.Equal(Path.Combine(_dir.Root, "data", "train.jsonl"), plan.TrainPath);
        Assert.Null(plan.ValidationPath);
        Assert.Equal(Path.Combine(_dir.Root, "artifacts", "demo"), plan.OutputDirectory);
        Assert.Equal(path, plan.RecipePath);
        Assert.Equal(new BaseModelReference(BaseModelKind.Builtin, "tiny-llama"), plan.BaseModel);
        var input = Assert.Single(plan.InputFiles);
        Assert.Equal(("data.train", plan.TrainPath, new FileInfo(plan.TrainPath).Length), (input.Role, input.Path, input.Size));
        Assert.Matches("^[0-9a-f]{64}$", plan.Fingerprint);
    }

    [Fact]
    public void Output_and_device_overrides()
    {
        var path = _dir.WriteRecipeWithData();
        var output = Path.Combine(_dir.Root, "elsewhere");

        var plan = Plan(path, options: Options with { OutputDirOverride = output, DeviceOverride = "cpu" });

        Assert.Equal(output, plan.OutputDirectory);
        Assert.Equal("cpu", plan.Recipe.Training.Device);
    }

    [Fact]
    public void Invalid_device_override_is_a_diagnostic()
    {
        var result = RecipeLoader.LoadPlan(_dir.WriteRecipeWithData(), null, Options with { DeviceOverride = "tpu" });

        TestAsserts.Single(result.Diagnostics, RecipeErrorCodes.InvalidFormat, 1, 1);
        Assert.Null(result.Plan);
    }

    [Fact]
    public void Missing_data_file_is_reported_at_the_data_train_value()
    {
        var path = _dir.Write("r.yaml", TempRecipeDir.MinimalRecipe);

        var result = RecipeLoader.LoadPlan(path, null, Options);

        Assert.Null(result.Plan);
        var d = TestAsserts.Single(result.Diagnostics, RecipeErrorCodes.DataFileNotFound, 4, 10);
        Assert.Equal(path, d.File);
    }

    [Theory]
    [InlineData("org/model", BaseModelKind.Hub, "org/model", null)]
    [InlineData("org/model@v1.0", BaseModelKind.Hub, "org/model", "v1.0")]
    [InlineData("builtin:tiny-llama", BaseModelKind.Builtin, "tiny-llama", null)]
    public void Base_model_kinds(string written, BaseModelKind kind, string name, string? revision)
    {
        var plan = Plan(_dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe.Replace("builtin:tiny-llama", written)));

        Assert.Equal(new BaseModelReference(kind, name, null, revision), plan.BaseModel);
    }

    [Fact]
    public void Folder_base_model_hashes_only_the_files_loading_uses()
    {
        _dir.Write("models/tiny/config.json", "{}");
        _dir.Write("models/tiny/model-00001-of-00002.safetensors", "w1");
        _dir.Write("models/tiny/model-00002-of-00002.safetensors", "w2");
        _dir.Write("models/tiny/model.safetensors.index.json", "{}");
        _dir.Write("models/tiny/tokenizer.json", "{}");
        _dir.Write("models/tiny/README.md", "not an input");
        _dir.Write("models/tiny/pytorch_model.bin", "not an input");

        var plan = Plan(_dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe.Replace("builtin:tiny-llama", "models/tiny")));

        Assert.Equal((BaseModelKind.Folder, "models/tiny", Path.Combine(_dir.Root, "models", "tiny")), (plan.BaseModel.Kind, plan.BaseModel.Name, plan.BaseModel.Path));
        Assert.Equal(
            ["data.train", "base_model/config.json", "base_model/model-00001-of-00002.safetensors", "base_model/model-00002-of-00002.safetensors",
             "base_model/model.safetensors.index.json", "base_model/tokenizer.json"],
            plan.InputFiles.Select(i => i.Role));
    }

    [Theory]
    [InlineData("models/none")]      // hub-shaped but a folder path is checked first when present; absent → hub
    [InlineData("./models/none")]
    [InlineData("nothing")]
    public void Missing_model_folder(string written)
    {
        var path = _dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe.Replace("builtin:tiny-llama", written));
        var result = RecipeLoader.LoadPlan(path, null, Options);

        if (written == "models/none")
        {
            Assert.Equal(BaseModelKind.Hub, result.Plan!.BaseModel.Kind);
            return;
        }

        TestAsserts.Single(result.Diagnostics, RecipeErrorCodes.BaseModelNotFound, 2, 13);
    }

    [Fact]
    public void Model_folder_without_config_json_is_reported()
    {
        _dir.Write("models/tiny/model.safetensors", "w");
        var path = _dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe.Replace("builtin:tiny-llama", "models/tiny"));

        var d = TestAsserts.Single(RecipeLoader.LoadPlan(path, null, Options).Diagnostics, RecipeErrorCodes.BaseModelNotFound, 2, 13);
        Assert.Contains("config.json", d.Message);
    }
}
