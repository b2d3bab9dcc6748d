namespace LoraRecipes.Recipes.Tests;

public sealed class RecipeLoaderTests : IDisposable
{
    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private RecipeLoadResult LoadText(string yaml) => RecipeLoader.Load(_dir.Write("recipe.yaml", yaml));

    [Fact]
    public void Minimal_recipe_loads()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        Assert.Equal("demo", result.Recipe!.Name);
        Assert.Equal("data/train.jsonl", result.Recipe.Data.Train);
    }

    [Fact]
    public void Unknown_key_suggests_the_closest_one_at_the_key_position()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\nlora: {rank: 8}\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.UnknownKey, 5, 8);
        Assert.Contains("'rank'", d.Message);
        Assert.Equal("Did you mean 'r'?", d.Hint);
    }

    [Fact]
    public void Unknown_key_with_a_typo_suggests_by_edit_distance()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\ntraining:\n  learnig_rate: 1e-4\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.UnknownKey, 6, 3);
        Assert.Equal("Did you mean 'learning_rate'?", d.Hint);
    }

    [Fact]
    public void Key_in_the_wrong_section_names_the_right_one()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\ntraining:\n  target_modules: [q_proj]\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.UnknownKey, 6, 3);
        Assert.Contains("lora.target_modules", d.Hint);
    }

    [Fact]
    public void Wrong_type_points_at_the_value()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\nlora:\n  r: abc\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.WrongType, 6, 6);
        Assert.Equal("lora.r must be an integer, got 'abc'", d.Message);
    }

    [Fact]
    public void List_where_a_map_is_expected_is_a_wrong_type()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\nlora: [1, 2]\n");

        TestAsserts.Single(result, RecipeErrorCodes.WrongType, 5, 7);
    }

    [Fact]
    public void Quoted_number_is_text_not_a_number()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\nlora:\n  r: \"8\"\n");

        TestAsserts.Single(result, RecipeErrorCodes.WrongType, 6, 6);
    }

    [Fact]
    public void Out_of_range_names_the_range()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\nlora:\n  dropout: 1.0\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.OutOfRange, 6, 12);
        Assert.Equal("lora.dropout must be >= 0 and < 1, got 1", d.Message);
    }

    [Fact]
    public void Bad_choice_lists_the_allowed_values_and_suggests()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\ntraining:\n  scheduler: cosin\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.InvalidChoice, 6, 14);
        Assert.Contains("linear, cosine, constant", d.Message);
        Assert.StartsWith("Did you mean 'cosine'?", d.Hint);
    }

    [Fact]
    public void Missing_required_key_points_at_the_enclosing_map()
    {
        var result = LoadText("name: demo\ndata:\n  format: text\n  train: x.jsonl\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.MissingRequiredKey, 1, 1);
        Assert.Contains("base_model", d.Message);
    }

    [Fact]
    public void Missing_required_key_in_a_section_points_at_the_section()
    {
        var result = LoadText("name: demo\nbase_model: builtin:x\ndata:\n  format: text\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.MissingRequiredKey, 4, 3);
        Assert.Contains("data.train", d.Message);
    }

    [Fact]
    public void Duplicate_key_points_at_the_second_occurrence()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\nname: again\n");

        var d = TestAsserts.Single(result, RecipeErrorCodes.DuplicateKey, 5, 1);
        Assert.Contains("line 1", d.Message);
    }

    [Fact]
    public void Yaml_syntax_error_becomes_a_diagnostic_with_its_position()
    {
        var result = LoadText("name: demo\nlora:\n  r: [1, 2\n");

        Assert.False(result.Succeeded);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(RecipeErrorCodes.YamlSyntax, d.Code);
        Assert.True(d.Line >= 3, d.ToString());
        Assert.DoesNotContain("Idx:", d.Message);
    }

    [Fact]
    public void Several_errors_are_reported_together_in_file_order()
    {
        var result = LoadText("""
            name: Bad Name
            base_model: builtin:tiny-llama
            data:
              train: d.jsonl
              max_length: 4
            lora:
              r: abc
              alfa: 16
            training:
              precision: fp8
            """);

        Assert.False(result.Succeeded);
        Assert.Equal(
            [
                (RecipeErrorCodes.InvalidFormat, 1, 7),
                (RecipeErrorCodes.OutOfRange, 5, 15),
                (RecipeErrorCodes.WrongType, 7, 6),
                (RecipeErrorCodes.UnknownKey, 8, 3),
                (RecipeErrorCodes.InvalidChoice, 10, 14),
            ],
            result.Diagnostics.Select(d => (d.Code, d.Line, d.Column)));
    }

    [Fact]
    public void Task_and_format_must_agree()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\ntask: sequence-classification\n");

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(RecipeErrorCodes.Conflict, d.Code);
    }

    [Fact]
    public void Validation_split_with_a_validation_file_is_a_warning_only()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\n  validation: v.jsonl\n  validation_split: 0.2\n");

        Assert.True(result.Succeeded);
        TestAsserts.Single(result.Diagnostics, RecipeErrorCodes.IgnoredValue, 6, 21);
    }

    [Fact]
    public void Missing_recipe_file_is_a_diagnostic_not_an_exception()
    {
        var result = RecipeLoader.Load(Path.Combine(_dir.Root, "nope.yaml"));

        Assert.Equal(RecipeErrorCodes.FileNotFound, Assert.Single(result.Diagnostics).Code);
    }

    [Theory]
    [InlineData("")]
    [InlineData("just text")]
    [InlineData("- a\n- b")]
    [InlineData("name: a\n---\nname: b")]
    public void Not_a_recipe(string yaml)
    {
        var result = LoadText(yaml);

        Assert.Equal(RecipeErrorCodes.NotARecipe, Assert.Single(result.Diagnostics).Code);
    }
}
