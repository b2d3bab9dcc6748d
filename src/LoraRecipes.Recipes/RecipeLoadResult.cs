namespace LoraRecipes.Recipes;

/// <summary>The outcome of <see cref="RecipeLoader.Load"/>: a recipe, or the diagnostics that explain why not.</summary>
/// <param name="Recipe">The recipe; null when there were errors.</param>
/// <param name="Diagnostics">Every error and warning, in file order per file.</param>
public sealed record RecipeLoadResult(Recipe? Recipe, IReadOnlyList<RecipeDiagnostic> Diagnostics)
{
    /// <summary>True when a recipe was produced (warnings allowed, no errors).</summary>
    public bool Succeeded => Recipe is not null && !Diagnostics.Any(d => d.IsError);
}
