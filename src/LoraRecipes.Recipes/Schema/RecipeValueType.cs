namespace LoraRecipes.Recipes.Schema;

/// <summary>The kind of value a recipe key holds; drives validation and (later) the JSON Schema.</summary>
public enum RecipeValueType
{
    /// <summary>A map of further keys (<c>data</c>, <c>lora</c>…).</summary>
    Section,

    /// <summary>Text; optionally constrained by <see cref="RecipeSchemaEntry.Pattern"/>.</summary>
    String,

    /// <summary>A whole number (plain YAML scalar).</summary>
    Integer,

    /// <summary>A number, integer or floating point, invariant culture (<c>2e-4</c>, <c>0.1</c>, <c>32</c>).</summary>
    Number,

    /// <summary><c>true</c> or <c>false</c>.</summary>
    Boolean,

    /// <summary>One of <see cref="RecipeSchemaEntry.Allowed"/>.</summary>
    Choice,

    /// <summary>A list of text values.</summary>
    StringList,

    /// <summary>A list whose entries are each one of <see cref="RecipeSchemaEntry.Allowed"/>.</summary>
    ChoiceList,

    /// <summary>A list of module names/suffixes/<c>re:</c> regexes, or the text <c>all-linear</c>.</summary>
    ModuleList,

    /// <summary><c>epoch</c>, <c>never</c>, or a positive number of steps.</summary>
    Schedule,
}
