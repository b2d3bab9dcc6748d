using LoraRecipes.Recipes;
using LoraRecipes.Tests.Export;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Training;

/// <summary>
/// Every shipped recipe passes the model-level checks that <c>validate</c>, <c>plan</c> and <c>run</c> apply
/// (<see cref="PlanChecks"/>), for every builtin base model they name — including the imported builtin:minilm, whose
/// config is checked without materialising it.
/// </summary>
public sealed class ShippedRecipeChecksTests
{
    public static TheoryData<string> Recipes()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(ExportFixture.RepoRoot, "recipes"), "*.yaml").Order())
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Recipes))]
    public void ShippedRecipePassesThePlanChecks(string recipe)
    {
        var plan = ExportFixture.Plan(ExportFixture.Recipe(recipe));
        var errors = PlanChecks.Check(plan).Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }
}
