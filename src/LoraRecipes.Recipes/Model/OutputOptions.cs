namespace LoraRecipes.Recipes;

/// <summary><c>output:</c> — where the artifacts go.</summary>
public sealed record OutputOptions
{
    /// <summary><c>dir</c>: output folder as written, relative to the recipe (default <c>artifacts/&lt;name&gt;</c>).</summary>
    public required string Dir { get; init; }
}
