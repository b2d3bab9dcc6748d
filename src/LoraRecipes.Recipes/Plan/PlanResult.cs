namespace LoraRecipes.Recipes;

/// <summary>The outcome of <see cref="TrainingPlan.Resolve"/> or <see cref="RecipeLoader.LoadPlan"/>.</summary>
/// <param name="Plan">The plan; null when there were errors.</param>
/// <param name="Diagnostics">Every error and warning.</param>
public sealed record PlanResult(TrainingPlan? Plan, IReadOnlyList<RecipeDiagnostic> Diagnostics)
{
    /// <summary>True when a plan was produced (warnings allowed, no errors).</summary>
    public bool Succeeded => Plan is not null && !Diagnostics.Any(d => d.IsError);
}
