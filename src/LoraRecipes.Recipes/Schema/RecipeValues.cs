namespace LoraRecipes.Recipes.Schema;

/// <summary>A recipe's values by key path, as the resolved YAML writes them (string, long, double, bool, null or string[]).</summary>
public static class RecipeValues
{
    /// <summary>The value at <paramref name="path"/> (a non-section key other than <c>extends</c>); null when absent.</summary>
    public static object? Of(Recipe recipe, string path) =>
        RecipeProjection.Values(recipe).FirstOrDefault(v => v.Entry.Path == path).Value;
}
