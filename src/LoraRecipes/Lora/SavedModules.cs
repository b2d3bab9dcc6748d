using LoraRecipes.Models;
using LoraRecipes.Recipes;

namespace LoraRecipes.Lora;

/// <summary>PEFT's <c>modules_to_save</c>: modules trained in full beside LoRA and saved with the adapter.</summary>
public static class SavedModules
{
    /// <summary>
    /// A classifier's head modules plus the recipe's <c>lora.modules_to_save</c> (in that order, without repeats); none for a
    /// model without a classification head.
    /// </summary>
    public static IReadOnlyList<string> For(ISequenceClassifier? classifier, LoraOptions lora) =>
        classifier is null ? [] : classifier.HeadModules.Concat(lora.ModulesToSave).Distinct(StringComparer.Ordinal).ToList();
}
