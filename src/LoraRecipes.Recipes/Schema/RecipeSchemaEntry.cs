namespace LoraRecipes.Recipes.Schema;

/// <summary>One key of the recipe schema: the single description that validation, did-you-mean,
/// defaults, the resolved-YAML writer and the JSON Schema generator all read.</summary>
/// <param name="Path">Dotted snake_case key path, e.g. <c>lora.target_modules</c>.</param>
/// <param name="Type">The kind of value.</param>
/// <param name="Doc">One line of documentation.</param>
public sealed record RecipeSchemaEntry(string Path, RecipeValueType Type, string Doc)
{
    /// <summary>The key must be present (after <c>extends:</c> and overrides are applied).</summary>
    public bool Required { get; init; }

    /// <summary><c>null</c> is an accepted value.</summary>
    public bool Nullable { get; init; }

    /// <summary>
    /// The default, as YAML would read it: string, long, double, bool, null or a string array.
    /// <c>{name}</c> in a string default is replaced by the recipe's name.
    /// </summary>
    public object? Default { get; init; }

    /// <summary>Allowed values for <see cref="RecipeValueType.Choice"/> and <see cref="RecipeValueType.ChoiceList"/>
    /// (for other types, documentation only).</summary>
    public IReadOnlyList<string> Allowed { get; init; } = [];

    /// <summary>Inclusive or exclusive lower bound for numbers.</summary>
    public double? Minimum { get; init; }

    /// <summary>True when <see cref="Minimum"/> itself is not allowed.</summary>
    public bool ExclusiveMinimum { get; init; }

    /// <summary>Inclusive or exclusive upper bound for numbers.</summary>
    public double? Maximum { get; init; }

    /// <summary>True when <see cref="Maximum"/> itself is not allowed.</summary>
    public bool ExclusiveMaximum { get; init; }

    /// <summary>For <see cref="RecipeValueType.ModuleList"/>: the one text that stands for every module.</summary>
    public string Keyword { get; init; } = LoraOptions.AllLinear;

    /// <summary>A regular expression a string value must match in full; for a <see cref="RecipeValueType.Choice"/>, text it also accepts besides <see cref="Allowed"/>.</summary>
    public string? Pattern { get; init; }

    /// <summary>The last segment of <see cref="Path"/>.</summary>
    public string Key => Path[(Path.LastIndexOf('.') + 1)..];

    /// <summary>The section path ("" for top-level keys).</summary>
    public string Parent => Path.Contains('.') ? Path[..Path.LastIndexOf('.')] : "";

    /// <summary>The range in words, e.g. "&gt;= 0 and &lt; 1"; null when unbounded.</summary>
    public string? DescribeRange()
    {
        var parts = new List<string>();
        if (Minimum is { } min)
        {
            parts.Add($"{(ExclusiveMinimum ? ">" : ">=")} {Format(min)}");
        }

        if (Maximum is { } max)
        {
            parts.Add($"{(ExclusiveMaximum ? "<" : "<=")} {Format(max)}");
        }

        return parts.Count == 0 ? null : string.Join(" and ", parts);
    }

    private static string Format(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
