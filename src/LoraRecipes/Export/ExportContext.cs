using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Export;

/// <summary>What every engine's writer needs: the plan, the choices, the base model as the engine will load it, the data.</summary>
/// <param name="Plan">The resolved plan (every default filled).</param>
/// <param name="Launcher">DeepSpeed ZeRO-2/3 or FSDP.</param>
/// <param name="BaseModel">The model path or hub id the engine loads (<c>./base_model</c> for builtin models).</param>
/// <param name="Revision">The hub revision, or null.</param>
/// <param name="ModelType">config.json's <c>model_type</c> (e.g. llama), or null when unknown.</param>
/// <param name="Tokenizer">The base model's tokenizer (special tokens, chat template).</param>
/// <param name="Data">The split, rendered records.</param>
public sealed record ExportContext(TrainingPlan Plan, ExportLauncher Launcher, string BaseModel, string? Revision, string? ModelType,
    TextTokenizer Tokenizer, ExportData Data)
{
    /// <summary>The recipe.</summary>
    public Recipe Recipe => Plan.Recipe;

    /// <summary>True when the engine evaluates during training (validation records exist and evaluation is not never).</summary>
    public bool Evaluates => Data.Validation.Count > 0 && !Recipe.Evaluation.Never;

    /// <summary>HF's scheduler name for the recipe's schedule (constant keeps the warm-up: constant_with_warmup).</summary>
    public string HfScheduler => Recipe.Training.Scheduler switch
    {
        LrScheduler.Cosine => "cosine",
        LrScheduler.Constant => "constant_with_warmup",
        _ => "linear",
    };

    /// <summary>The recipe's target modules as names (all-linear handled by each engine).</summary>
    public IReadOnlyList<string> Targets => Recipe.Lora.TargetModules;
}
