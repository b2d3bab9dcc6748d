namespace LoraRecipes.Recipes.Tests;

internal static class TestAsserts
{
    /// <summary>Asserts that exactly one diagnostic has <paramref name="code"/>, at the given position, and returns it.</summary>
    public static RecipeDiagnostic Single(RecipeLoadResult result, string code, int line, int column)
    {
        Assert.False(result.Succeeded);
        return Single(result.Diagnostics, code, line, column);
    }

    public static RecipeDiagnostic Single(IReadOnlyList<RecipeDiagnostic> diagnostics, string code, int line, int column)
    {
        var matches = diagnostics.Where(d => d.Code == code).ToList();
        Assert.True(matches.Count == 1, $"Expected one {code}, got:\n{string.Join("\n", diagnostics)}");
        Assert.Equal((line, column), (matches[0].Line, matches[0].Column));
        return matches[0];
    }
}
