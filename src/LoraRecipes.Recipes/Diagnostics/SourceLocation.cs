namespace LoraRecipes.Recipes;

/// <summary>A position in a recipe file, a base file or an override (1-based line and column).</summary>
/// <param name="File">The file as given to the loader, or a pseudo-file such as <c>--set lora.r=8</c>.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    /// <inheritdoc/>
    public override string ToString() => $"{File}({Line},{Column})";
}
