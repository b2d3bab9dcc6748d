using LoraRecipes.Recipes.Schema;

namespace LoraRecipes.Recipes.Tests.Plan;

public sealed class AdapterNamesTests
{
    [Theory]
    [InlineData("medical-qa")]
    [InlineData("bot.v2_final")]
    [InlineData("7b")]
    public void Lower_case_names_are_folder_names(string name) => Assert.Null(AdapterNames.Problem(name));

    [Theory]
    [InlineData("Hello", "use 'hello'")]
    [InlineData("My-Bot", "use 'my-bot'")]
    [InlineData("a/b", "may only contain")]
    [InlineData("..", "not a folder name")]
    [InlineData("", "cannot be empty")]
    public void Other_names_are_refused_saying_why(string name, string why) => Assert.Contains(why, AdapterNames.Problem(name));

    [Fact]
    public void The_folder_is_lora_slash_name_everywhere()
    {
        Assert.Equal("lora/medical-qa/", AdapterNames.RelativeFolder("medical-qa"));
        Assert.Equal(Path.Combine("app", "lora", "medical-qa"), AdapterNames.FolderIn("app", "medical-qa"));
    }

    [Fact]
    public void The_schema_and_the_defaults_use_the_same_rule()
    {
        var name = RecipeSchema.Entries.Single(e => e.Path == "name");
        Assert.Equal(AdapterNames.Pattern, name.Pattern);
        Assert.Equal(AdapterNames.DefaultArtifactsDir, RecipeSchema.Entries.Single(e => e.Path == "output.dir").Default);
        using var dir = new TempRecipeDir();
        var recipe = RecipeLoader.Load(dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe.Replace("name: demo", "name: medical-qa"), "Medical.yaml")).Recipe!;
        Assert.Equal("artifacts/medical-qa", recipe.Output.Dir);
        Assert.Equal("medical-qa", AdapterNames.For(recipe));
        Assert.Equal("override", AdapterNames.For(recipe, " override "));
    }

}
