namespace LoraRecipes.Recipes;

/// <summary><c>data:</c> — training and validation data. Paths are as written, relative to the recipe.</summary>
public sealed record DataOptions
{
    /// <summary><c>train</c>: JSON array or JSONL file, relative to the recipe.</summary>
    public required string Train { get; init; }

    /// <summary><c>validation</c>: validation file, or null to split off <see cref="ValidationSplit"/> of the training data.</summary>
    public required string? Validation { get; init; }

    /// <summary><c>validation_split</c>: fraction held out when <see cref="Validation"/> is null; 0 disables validation.</summary>
    public required double ValidationSplit { get; init; }

    /// <summary><c>format</c>: record layout.</summary>
    public required DataFormat Format { get; init; }

    /// <summary><c>prompt_template</c>: how a record becomes a prompt.</summary>
    public required PromptTemplate PromptTemplate { get; init; }

    /// <summary><c>max_length</c>: longest tokenized example (≥ 8).</summary>
    public required int MaxLength { get; init; }

    /// <summary><c>train_on_inputs</c>: loss on prompt tokens too.</summary>
    public required bool TrainOnInputs { get; init; }

    /// <summary><c>packing</c>: pack short examples into one sequence.</summary>
    public required bool Packing { get; init; }
}
