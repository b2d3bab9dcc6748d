namespace LoraRecipes.Recipes;

/// <summary><c>ia3:</c> — PEFT's IA3 settings, used when <c>method: ia3</c>.</summary>
public sealed record Ia3Options
{
    /// <summary><c>target_modules</c>: linear modules that get a scaling vector (names, suffixes, <c>re:</c>, all-linear);
    /// null: PEFT's default for the model family (e.g. llama: k_proj, v_proj, down_proj).</summary>
    public ValueList<string>? TargetModules { get; init; }

    /// <summary><c>feedforward_modules</c>: the targets whose <em>input</em> is scaled (the others' output is);
    /// a subset of the targets; null: PEFT's default for the model family (e.g. llama: down_proj).</summary>
    public ValueList<string>? FeedforwardModules { get; init; }
}
