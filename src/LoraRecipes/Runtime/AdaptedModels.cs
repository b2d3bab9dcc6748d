using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Recipes;

namespace LoraRecipes.Runtime;

/// <summary>Opens an <see cref="AdaptedModel"/> (what <c>generate</c>, <c>chat</c> and generation metrics use) from an adapter folder.</summary>
public static class AdaptedModels
{
    /// <summary>
    /// Loads the base named by the adapter's <c>base_model_name_or_path</c> (or <paramref name="baseModel"/>) and
    /// applies the adapter (<see cref="AdapterFolder"/>). <paramref name="template"/> overrides the recipe's template;
    /// an adapter without a recipe (PEFT's) uses alpaca.
    /// </summary>
    public static AdaptedModel Open(string adapterFolder, string? baseModel = null, string? template = null)
    {
        var adapter = AdapterFolder.Open(adapterFolder);
        var (model, _) = adapter.Load(baseModel);
        try
        {
            var formatter = adapter.Formatter(model.Tokenizer, template) ?? PromptFormatter.For(PromptTemplate.Alpaca, model.Tokenizer);
            return new AdaptedModel(model, formatter, adapterFolder);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
