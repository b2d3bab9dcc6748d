namespace LoraRecipes.Recipes.Artifacts;

/// <summary>
/// The names of the files in an artifact folder (<c>artifacts/&lt;name&gt;/</c>) — the one place they are written
/// down. The trainer writes them, the core opens them (<c>AdapterFolder.Open</c>), the CLI shows them and the MSBuild
/// tasks copy and clean them.
/// </summary>
public static class ArtifactFiles
{
    /// <summary>PEFT's adapter config (<c>peft_type LORA</c>, r, lora_alpha, target_modules, …).</summary>
    public const string AdapterConfig = "adapter_config.json";

    /// <summary>PEFT's adapter weights: <c>base_model.model.&lt;module&gt;.lora_A.weight</c> / <c>lora_B.weight</c>.</summary>
    public const string AdapterWeights = "adapter_model.safetensors";

    /// <summary>The <see cref="LoraManifest"/>: fingerprint, inputs, provenance, tool versions, metrics. Written last.</summary>
    public const string Manifest = "lora-manifest.json";

    /// <summary>The recipe with every default filled (loads back as a recipe).</summary>
    public const string ResolvedRecipe = "recipe.resolved.yaml";

    /// <summary>One JSON line per logged step, evaluation and sample.</summary>
    public const string Metrics = "metrics.jsonl";

    /// <summary>Training and validation loss against step.</summary>
    public const string LossPlot = "loss.png";

    /// <summary>The resumable training states (a folder).</summary>
    public const string Checkpoints = "checkpoints";

    /// <summary>
    /// The training lock (<see cref="ArtifactLock"/>): held by the process training into the folder, released by the
    /// operating system when it exits. Never deleted (deleting a held lock file would let a second holder in).
    /// </summary>
    public const string Lock = ".lora-train.lock";

    /// <summary>
    /// The files of a finished artifact, in the order a run renames them into place: the manifest last, so a folder
    /// whose manifest is current holds every file it names. They join a project's output; <c>dotnet clean</c> deletes
    /// them (checkpoints and the lock stay out of the output).
    /// </summary>
    public static IReadOnlyList<string> All { get; } = [AdapterConfig, AdapterWeights, ResolvedRecipe, Metrics, LossPlot, Manifest];

    /// <summary>The files without which a folder is not an adapter.</summary>
    public static IReadOnlyList<string> Required { get; } = [AdapterConfig, AdapterWeights];
}
