namespace LoraRecipes.Recipes;

/// <summary>
/// <c>freeze:</c> — top-layer fine-tuning (LLaMA-Factory's <c>finetuning_type: freeze</c>), used when <c>method: freeze</c>:
/// the last <see cref="TrainableLayers"/> transformer blocks (their <see cref="Modules"/>) and the head train in full, the
/// rest stays frozen; with <see cref="UnfreezeEvery"/> one more block, the next one down, joins every K steps or epochs.
/// </summary>
public sealed record FreezeOptions
{
    /// <summary>The keyword of <see cref="Modules"/> meaning every parameter of a block.</summary>
    public const string AllModules = "all";

    /// <summary><c>trainable_layers</c>: how many of the last blocks train from step 1 (LLaMA-Factory's freeze_trainable_layers; 0: head only).</summary>
    public int TrainableLayers { get; init; } = 2;

    /// <summary><c>modules</c>: which sub-modules of a trainable block train (names such as mlp, self_attn, attention, ffn), or <c>all</c>.</summary>
    public ValueList<string> Modules { get; init; } = new[] { AllModules };

    /// <summary><c>extra_modules</c>: modules outside the blocks that train too (LLaMA-Factory's freeze_extra_modules), e.g. [embed_tokens, norm].</summary>
    public ValueList<string> ExtraModules { get; init; } = ValueList<string>.Empty;

    /// <summary><c>train_head</c>: the output head trains (lm_head; a classifier's pooler). A classifier's classification head always trains.</summary>
    public bool TrainHead { get; init; } = true;

    /// <summary><c>unfreeze_schedule.every</c>: one more block becomes trainable every this many <see cref="UnfreezeUnit"/>; null: no schedule.</summary>
    public int? UnfreezeEvery { get; init; }

    /// <summary><c>unfreeze_schedule.unit</c>: what <see cref="UnfreezeEvery"/> counts.</summary>
    public UnfreezeUnit UnfreezeUnit { get; init; } = UnfreezeUnit.Steps;

    /// <summary><c>unfreeze_schedule.max_layers</c>: the schedule stops at this many trainable blocks; null: all blocks.</summary>
    public int? MaxLayers { get; init; }

    /// <summary>True when <see cref="Modules"/> is <c>all</c>.</summary>
    public bool AllBlockModules => Modules is [AllModules];
}

/// <summary><c>freeze.unfreeze_schedule.unit</c>.</summary>
public enum UnfreezeUnit
{
    /// <summary><c>steps</c>: optimizer steps.</summary>
    Steps,

    /// <summary><c>epochs</c>: passes over the training data.</summary>
    Epochs,
}
