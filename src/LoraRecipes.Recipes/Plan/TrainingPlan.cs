namespace LoraRecipes.Recipes;

/// <summary>
/// The one object the trainer receives: the recipe with every default filled, absolute paths, the base
/// model reference, the hashed input files and the fingerprint that decides whether training must run.
/// </summary>
public sealed record TrainingPlan
{
    /// <summary>The effective recipe (device override applied); its paths are as written, relative to <see cref="RecipeDirectory"/>.</summary>
    public required Recipe Recipe { get; init; }

    /// <summary>Absolute path of the recipe file.</summary>
    public required string RecipePath { get; init; }

    /// <summary>Absolute folder that relative paths in the recipe are resolved against.</summary>
    public required string RecipeDirectory { get; init; }

    /// <summary>The <c>--set</c> overrides that were applied, in order.</summary>
    public required IReadOnlyList<string> Overrides { get; init; }

    /// <summary>The resolved base model.</summary>
    public required BaseModelReference BaseModel { get; init; }

    /// <summary>Absolute path of <c>data.train</c>.</summary>
    public required string TrainPath { get; init; }

    /// <summary>Absolute path of <c>data.validation</c>, or null.</summary>
    public required string? ValidationPath { get; init; }

    /// <summary>Absolute output folder (<c>output.dir</c> against the recipe folder, or the override).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Every file training reads, with its content hash: data files, then base model files.</summary>
    public required IReadOnlyList<InputFile> InputFiles { get; init; }

    /// <summary>The trainer version that took part in the fingerprint.</summary>
    public required string ToolVersion { get; init; }

    /// <summary>The builtin-model generator version that took part in the fingerprint (builtin models only).</summary>
    public required string BuiltinModelVersion { get; init; }

    /// <summary>
    /// Lowercase hex SHA-256 of <see cref="PlanWriter.ToCanonicalJson"/>: the resolved recipe (sorted keys,
    /// invariant culture, paths relative to the recipe, output dir excluded), the tool version, the base
    /// model reference and the content hash of every input file. Same fingerprint ⇒ same training.
    /// </summary>
    public required string Fingerprint { get; init; }

    /// <summary>Resolves <paramref name="recipe"/> into a plan: paths, base model, input hashes, fingerprint.
    /// Missing or unreadable inputs come back as diagnostics positioned at the recipe value that names them.</summary>
    public static PlanResult Resolve(Recipe recipe, PlanOptions options) => PlanResolver.Resolve(recipe, options);
}
