namespace LoraRecipes.Recipes;

/// <summary><c>lora:</c> — the adapter's shape, with PEFT's meaning for every field.</summary>
public sealed record LoraOptions
{
    /// <summary>The target list meaning "every linear layer but the output head" (PEFT's <c>all-linear</c>).</summary>
    public const string AllLinear = "all-linear";

    /// <summary><c>init: pissa_niter_N</c> (PEFT's spelling): PiSSA by fast SVD with N subspace iterations.</summary>
    public const string PissaNiterPrefix = "pissa_niter_";

    /// <summary><c>r</c>: rank of the update B·A (≥ 1).</summary>
    public required int R { get; init; }

    /// <summary><c>alpha</c>: the update is scaled by alpha / r (alpha / √r with rsLoRA); &gt; 0.</summary>
    public required double Alpha { get; init; }

    /// <summary><c>dropout</c>: dropout on the LoRA input, in [0, 1).</summary>
    public required double Dropout { get; init; }

    /// <summary><c>target_modules</c>: names, suffixes or <c>re:</c> regexes; the single entry
    /// <see cref="AllLinear"/> when the recipe says <c>all-linear</c>.</summary>
    public required ValueList<string> TargetModules { get; init; }

    /// <summary><c>init</c>: initialisation of A.</summary>
    public required LoraInit Init { get; init; }

    /// <summary>
    /// <c>init: pissa_niter_N</c>: PiSSA with PEFT's fast SVD (torch's <c>svd_lowrank</c>, N subspace iterations);
    /// <see cref="Init"/> is then <see cref="LoraInit.Pissa"/>. Null for the exact SVD and every other init.
    /// </summary>
    public int? PissaNiter { get; init; }

    /// <summary><c>use_dora</c>: DoRA — a trained magnitude per output row times the normalised direction W + s·B·A.</summary>
    public bool UseDora { get; init; }

    /// <summary><c>use_rslora</c>: scale by alpha / √r.</summary>
    public required bool UseRslora { get; init; }

    /// <summary><c>bias</c>: which biases train.</summary>
    public required LoraBias Bias { get; init; }

    /// <summary><c>modules_to_save</c>: modules trained in full and saved with the adapter.</summary>
    public required ValueList<string> ModulesToSave { get; init; }

    /// <summary>True when <see cref="TargetModules"/> is <c>all-linear</c>.</summary>
    public bool TargetsAllLinear => TargetModules is [AllLinear];
}
