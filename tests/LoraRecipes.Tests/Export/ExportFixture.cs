using LoraRecipes.Artifacts;
using LoraRecipes.Export;
using LoraRecipes.Models;
using LoraRecipes.Recipes;

namespace LoraRecipes.Tests.Export;

/// <summary>Shipped recipes and their plans, and a way to export them into a temp folder.</summary>
internal static class ExportFixture
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Recipe(string name) => Path.Combine(RepoRoot, "recipes", name);

    public static TrainingPlan Plan(string recipe, params string[] overrides)
    {
        var options = new PlanOptions { ToolVersion = ToolInfo.Version, BuiltinModelVersion = BuiltinModels.Version };
        var result = RecipeLoader.LoadPlan(recipe, overrides, options);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    /// <summary>Exports into a fresh folder under <paramref name="root"/>; returns the folder.</summary>
    public static string Export(string root, TrainingPlan plan, ExportEngine engine, ExportLauncher launcher)
    {
        string folder = Path.Combine(root, $"{ExportNames.Of(engine)}-{ExportNames.Of(launcher)}-{Guid.NewGuid():N}");
        RecipeExporter.Export(plan, engine, launcher, folder);
        return folder;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (LoraRecipes.sln) not found above " + AppContext.BaseDirectory);
    }
}
