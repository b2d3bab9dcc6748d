namespace LoraRecipes.Recipes.Tests.Schema;

/// <summary><c>--set key.path=value</c> through the loader.</summary>
public sealed class OverrideParserTests : IDisposable
{
    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private RecipeLoadResult Load(params string[] overrides) =>
        RecipeLoader.Load(_dir.Write("r.yaml", TempRecipeDir.MinimalRecipe + "\nlora:\n  r: 16\n"), overrides);

    [Fact]
    public void Scalars_override_and_numbers_parse_invariantly()
    {
        var result = Load("lora.r=8", "training.learning_rate=1e-4", "training.max_steps=null");

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal(8, result.Recipe!.Lora.R);
        Assert.Equal(1e-4, result.Recipe.Training.LearningRate);
        Assert.Null(result.Recipe.Training.MaxSteps);
        Assert.Equal(["lora.r=8", "training.learning_rate=1e-4", "training.max_steps=null"], result.Recipe.Origin.Overrides);
    }

    [Fact]
    public void Lists_replace_lists()
    {
        var result = Load("lora.target_modules=[q_proj,k_proj]", "evaluation.samples=[\"a, b\",\"c\"]");

        Assert.Equal(["q_proj", "k_proj"], result.Recipe!.Lora.TargetModules);
        Assert.Equal(["a, b", "c"], result.Recipe.Evaluation.Samples);
    }

    [Fact]
    public void Later_overrides_win()
    {
        Assert.Equal(3, Load("lora.r=8", "lora.r=3").Recipe!.Lora.R);
    }

    [Fact]
    public void Unknown_path_suggests_and_points_at_the_bad_segment()
    {
        var result = Load("lora.rank=8");

        var d = TestAsserts.Single(result, RecipeErrorCodes.UnknownOverridePath, 1, 6);
        Assert.Equal("--set lora.rank=8", d.File);
        Assert.StartsWith("Did you mean 'r'?", d.Hint);
    }

    [Fact]
    public void Invalid_value_points_at_the_value_column_in_the_pseudo_file()
    {
        var result = Load("lora.r=abc");

        var d = TestAsserts.Single(result, RecipeErrorCodes.WrongType, 1, 8);
        Assert.StartsWith("--set lora.r=abc(1,8): error LORA012: lora.r must be an integer, got 'abc'. Expected a whole number", d.ToString());
    }

    [Fact]
    public void Invalid_value_inside_a_list_points_at_the_item()
    {
        var result = Load("evaluation.metrics=[loss,perplexty]");

        TestAsserts.Single(result, RecipeErrorCodes.InvalidChoice, 1, 26);
    }

    [Fact]
    public void Yaml_syntax_error_in_a_value_stays_on_the_override_line()
    {
        TestAsserts.Single(Load("lora.target_modules=[q_proj"), RecipeErrorCodes.YamlSyntax, 1, 28);
    }

    [Theory]
    [InlineData("lora.r")]
    [InlineData("=8")]
    public void Malformed_override(string text)
    {
        TestAsserts.Single(Load(text), RecipeErrorCodes.InvalidOverride, 1, 1);
    }

    [Fact]
    public void Extends_cannot_be_overridden()
    {
        TestAsserts.Single(Load("extends=other.yaml"), RecipeErrorCodes.InvalidOverride, 1, 1);
    }

    [Fact]
    public void Override_of_a_section_with_a_scalar_is_a_type_error()
    {
        TestAsserts.Single(Load("lora=5"), RecipeErrorCodes.WrongType, 1, 6);
    }
}
