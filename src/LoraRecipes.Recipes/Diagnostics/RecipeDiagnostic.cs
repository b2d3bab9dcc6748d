namespace LoraRecipes.Recipes;

/// <summary>
/// A problem the user can act on: where it is, a stable code from <see cref="RecipeErrorCodes"/>,
/// what is wrong and how to fix it. Loading never throws for user errors; it returns these.
/// </summary>
/// <param name="File">The file as given (or absolute), or a pseudo-file such as <c>--set lora.r=8</c>.</param>
/// <param name="Line">1-based line (0 when the problem concerns the whole file).</param>
/// <param name="Column">1-based column (0 when the problem concerns the whole file).</param>
/// <param name="Code">A stable code, <c>LORA001</c> and up.</param>
/// <param name="Severity">Error or warning.</param>
/// <param name="Message">What is wrong, without a final period.</param>
/// <param name="Hint">How to fix it, or null.</param>
public sealed record RecipeDiagnostic(
    string File,
    int Line,
    int Column,
    string Code,
    DiagnosticSeverity Severity,
    string Message,
    string? Hint = null)
{
    /// <summary>True for <see cref="DiagnosticSeverity.Error"/>.</summary>
    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>The position as a <see cref="SourceLocation"/>.</summary>
    public SourceLocation Location => new(File, Line, Column);

    /// <summary>An error at <paramref name="at"/> (the core's model checks build these too).</summary>
    public static RecipeDiagnostic Error(SourceLocation at, string code, string message, string? hint = null) =>
        new(at.File, at.Line, at.Column, code, DiagnosticSeverity.Error, message, hint);

    internal static RecipeDiagnostic Warning(SourceLocation at, string code, string message, string? hint = null) =>
        new(at.File, at.Line, at.Column, code, DiagnosticSeverity.Warning, message, hint);

    /// <summary>
    /// The canonical MSBuild / IDE form, e.g.
    /// <c>recipes/medical.yaml(12,5): error LORA012: lora.r must be an integer, got 'abc'. Write a whole number such as 8.</c>
    /// </summary>
    public override string ToString()
    {
        var severity = Severity == DiagnosticSeverity.Error ? "error" : "warning";
        var where = Line > 0 ? $"{File}({Line},{Column})" : File;
        var text = $"{where}: {severity} {Code}: {Message}.";
        return Hint is null ? text : $"{text} {Hint}";
    }
}
