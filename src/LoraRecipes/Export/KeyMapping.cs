using LoraRecipes.Recipes;

namespace LoraRecipes.Export;

/// <summary>
/// How one recipe key travels to each engine: the engine key(s) that carry it, a note where the engines' meaning
/// differs from ours, and, per engine, the values it cannot express (a refusal reason, or null when it can).
/// </summary>
/// <param name="RecipeKey">The schema path, e.g. <c>lora.use_rslora</c>.</param>
/// <param name="Axolotl">The axolotl key(s) or file that carry the value.</param>
/// <param name="LlamaFactory">The LLaMA-Factory key(s) or file that carry the value.</param>
/// <param name="Note">Where the semantics differ, in one sentence; null when they match.</param>
public sealed record KeyMapping(string RecipeKey, string Axolotl, string LlamaFactory, string? Note = null)
{
    /// <summary>The values refused, in words, for the docs (e.g. "all, lora_only on both"); null when none is.</summary>
    public string? Refused { get; init; }

    /// <summary>Why axolotl cannot express this recipe's value; null when it can.</summary>
    public Func<Recipe, string?> RefuseAxolotl { get; init; } = _ => null;

    /// <summary>Why LLaMA-Factory cannot express this recipe's value; null when it can.</summary>
    public Func<Recipe, string?> RefuseLlamaFactory { get; init; } = _ => null;

    /// <summary>The refusal reason for <paramref name="engine"/>, or null.</summary>
    public string? Refusal(Recipe recipe, ExportEngine engine) =>
        engine == ExportEngine.Axolotl ? RefuseAxolotl(recipe) : RefuseLlamaFactory(recipe);

    /// <summary>Refuses the same values on both engines.</summary>
    public KeyMapping RefuseBoth(Func<Recipe, string?> reason) => this with { RefuseAxolotl = reason, RefuseLlamaFactory = reason };
}
