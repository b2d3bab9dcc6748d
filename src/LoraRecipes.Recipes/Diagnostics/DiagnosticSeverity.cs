namespace LoraRecipes.Recipes;

/// <summary>How serious a <see cref="RecipeDiagnostic"/> is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>The recipe cannot be used until this is fixed.</summary>
    Error,

    /// <summary>The recipe works, but probably not the way its author meant.</summary>
    Warning,
}
