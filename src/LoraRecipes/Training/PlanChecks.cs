using LoraRecipes.Models;
using LoraRecipes.Recipes;

namespace LoraRecipes.Training;

/// <summary>
/// The checks of a plan that need the base model's config.json: what <c>run</c> would refuse for this model, reported by
/// <c>validate</c> and <c>plan</c> as diagnostics at the recipe key (file(line,col)) before anything trains.
/// </summary>
/// <remarks>
/// Reads only config.json (a builtin model's config comes from its spec; a hub model is checked by <c>run</c> once
/// downloaded). An unsupported config field (an unknown rope_type, hidden_act, …) is an error at <c>base_model</c>
/// whose message names the field; GPT-2 with <c>data.packing</c>, and a family without a sequence-classification head
/// under <c>task: sequence-classification</c>, are errors at those keys.
/// </remarks>
public static class PlanChecks
{
    /// <summary>Diagnostics for <paramref name="plan"/>; empty when the model can run it (or its config is not on disk).</summary>
    public static IReadOnlyList<RecipeDiagnostic> Check(TrainingPlan plan)
    {
        var recipe = plan.Recipe;
        var at = recipe.Origin.LocationOf("base_model");
        ModelConfig config;
        try
        {
            switch (plan.BaseModel.Kind)
            {
                case BaseModelKind.Folder:
                    config = ModelConfig.Load(Path.Combine(plan.BaseModel.Path!, "config.json"));
                    break;
                case BaseModelKind.Builtin:
                    config = BuiltinModels.Get(plan.BaseModel.Name).Config(1);
                    break;
                default:
                    return [];
            }
        }
        catch (ModelLoadException ex)
        {
            return [RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict, $"base_model cannot be loaded: {ex.Message.TrimEnd('.')}",
                "Use a checkpoint whose config.json this version supports (docs/models.md lists the fields and values).")];
        }

        var diagnostics = new List<RecipeDiagnostic>();
        bool classification = recipe.Task == TaskType.SequenceClassification;
        if (recipe.Data.Packing && config.ModelType == "gpt2")
            diagnostics.Add(RecipeDiagnostic.Error(recipe.Origin.LocationOf("data.packing"), RecipeErrorCodes.Conflict,
                "data.packing: true is not supported for GPT-2 models (their learned positions cannot restart inside a packed row)", "Set data.packing: false."));
        if (classification && !ModelFamilies.SupportedClassifiers.Contains(config.ModelType))
            diagnostics.Add(RecipeDiagnostic.Error(recipe.Origin.LocationOf("task"), RecipeErrorCodes.Conflict,
                $"model_type {config.ModelType} has no sequence-classification head here",
                $"Use a {string.Join(", ", ModelFamilies.SupportedClassifiers)} base model, or task: causal-lm."));
        if (!classification && !ModelFamilies.Supported.Contains(config.ModelType))
            diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict, $"model_type {config.ModelType} is not supported",
                $"Supported: {string.Join(", ", ModelFamilies.Supported)}."));
        else if (!classification && config.ModelType is "bert" or "distilbert")
            diagnostics.Add(RecipeDiagnostic.Error(recipe.Origin.LocationOf("task"), RecipeErrorCodes.Conflict,
                $"model_type {config.ModelType} is an encoder: it has no language-model head for task causal-lm", "Use task: sequence-classification."));
        if (plan.BaseModel.Kind == BaseModelKind.Folder)
            CheckTokenizer(plan, diagnostics);
        return diagnostics;
    }

    /// <summary>The folder's tokenizer loads, and <c>prompt_template: model</c> finds a chat_template it recognises.</summary>
    private static void CheckTokenizer(TrainingPlan plan, List<RecipeDiagnostic> diagnostics)
    {
        var recipe = plan.Recipe;
        Tokenization.TextTokenizer tokenizer;
        try
        {
            tokenizer = Tokenization.TextTokenizer.Load(plan.BaseModel.Path!);
        }
        catch (Tokenization.TokenizerLoadException ex)
        {
            diagnostics.Add(RecipeDiagnostic.Error(recipe.Origin.LocationOf("base_model"), RecipeErrorCodes.Conflict,
                $"base_model's tokenizer cannot be loaded: {ex.Message.TrimEnd('.')}", "docs/models.md and the README's Tokenizers section list the files read."));
            return;
        }
        if (recipe.Data.PromptTemplate != PromptTemplate.Model || recipe.Task == TaskType.SequenceClassification) return;
        try
        {
            Data.PromptFormatter.For(PromptTemplate.Model, tokenizer);
        }
        catch (NotSupportedException ex)
        {
            diagnostics.Add(RecipeDiagnostic.Error(recipe.Origin.LocationOf("data.prompt_template"), RecipeErrorCodes.Conflict,
                ex.Message.TrimEnd('.'), "Name the template (alpaca, chatml, llama3, plain)."));
        }
    }
}
