namespace LoraRecipes.Recipes.Tests;

/// <summary>Every recipe under <c>recipes/</c> loads and resolves against the code, and starts with the command that runs it.</summary>
public sealed class ShippedRecipesTests
{
    public static TheoryData<string> Recipes()
    {
        var data = new TheoryData<string>();
        foreach (string path in Directory.GetFiles(Path.Combine(RepositoryRoot(), "recipes"), "*.yaml").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(path));
        return data;
    }

    [Fact]
    public void The_samples_are_shipped()
    {
        var names = Directory.GetFiles(Path.Combine(RepositoryRoot(), "recipes"), "*.yaml").Select(Path.GetFileName).ToList();
        Assert.Contains("medical.yaml", names);
        Assert.Contains("sentiment.yaml", names);
    }

    [Theory]
    [MemberData(nameof(Recipes))]
    public void Shipped_recipe_loads_resolves_and_shows_its_command(string file)
    {
        string path = Path.Combine(RepositoryRoot(), "recipes", file);
        var result = RecipeLoader.LoadPlan(path, null, new PlanOptions { ToolVersion = "test" });
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.DoesNotContain(result.Diagnostics, d => !d.IsError);   // no warnings either
        Assert.StartsWith($"# Train:     dotnet lora run recipes/{file}", File.ReadLines(path).First());
        Assert.All(new[] { result.Plan!.TrainPath, result.Plan.ValidationPath }.OfType<string>(), p => Assert.True(File.Exists(p), p));
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("LoraRecipes.sln not found above " + AppContext.BaseDirectory);
    }
}
