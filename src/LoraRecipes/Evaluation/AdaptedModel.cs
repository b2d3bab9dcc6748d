using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Recipes;

namespace LoraRecipes.Evaluation;

/// <summary>
/// A base model with a trained adapter applied, plus the prompt template the adapter was trained with:
/// what <c>generate</c>, <c>chat</c> and generation metrics start from.
/// </summary>
public sealed class AdaptedModel : IDisposable
{
    private AdaptedModel(LoadedModel model, PromptFormatter formatter, string adapterFolder)
    {
        Model = model;
        Formatter = formatter;
        AdapterFolder = adapterFolder;
    }

    /// <summary>The base model with the LoRA layers wrapped in (unmerged, dropout off).</summary>
    public LoadedModel Model { get; }

    /// <summary>The recipe's prompt template (alpaca when the adapter folder has no resolved recipe).</summary>
    public PromptFormatter Formatter { get; }

    /// <summary>The adapter folder.</summary>
    public string AdapterFolder { get; }

    /// <summary>
    /// Loads the base named by the adapter's <c>base_model_name_or_path</c> (or <paramref name="baseModel"/>)
    /// and applies the adapter. <paramref name="template"/> overrides the recipe's template.
    /// </summary>
    public static AdaptedModel Open(string adapterFolder, string? baseModel = null, string? template = null)
    {
        var config = PeftAdapterConfig.Load(Path.Combine(adapterFolder, ArtifactWriter.AdapterConfigFile));
        string spec = baseModel ?? config.BaseModelNameOrPath;
        if (spec.Length == 0) throw new AdapterLoadException(adapterFolder, "adapter_config.json names no base_model_name_or_path; give --base.");
        var model = ModelLoader.Load(ModelLoader.ResolveFolder(spec));
        try
        {
            AdapterLoader.Apply(model.Module, adapterFolder);
            var formatter = PromptFormatter.For(template ?? TemplateOf(adapterFolder) ?? "alpaca", model.Tokenizer);
            return new AdaptedModel(model, formatter, adapterFolder);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The prompt template recorded in the adapter's <c>recipe.resolved.yaml</c>, or null.</summary>
    public static string? TemplateOf(string adapterFolder)
    {
        string resolved = Path.Combine(adapterFolder, ArtifactWriter.ResolvedRecipeFile);
        if (!File.Exists(resolved)) return null;
        var load = RecipeLoader.Load(resolved);
        return load.Recipe is { } r ? (r.Data.PromptTemplate == PromptTemplate.Model ? "model" : PromptFormatter.For(r.Data.PromptTemplate).Name) : null;
    }

    /// <summary>Generation options with the template's end-of-turn marker as a stop string.</summary>
    public GenerationOptions WithStops(GenerationOptions options) =>
        Formatter.EndOfTurn.Length == 0 ? options : options with { StopStrings = [.. options.StopStrings, Formatter.EndOfTurn] };

    /// <summary>
    /// Formats <paramref name="prompt"/> as an instruction with the recipe's template (unless raw) and generates;
    /// <paramref name="onText"/> receives the text as it is generated, in whole characters.
    /// </summary>
    public string Generate(string prompt, GenerationOptions options, bool raw = false, Action<string>? onText = null)
    {
        string text = raw ? prompt : Formatter.FormatPrompt(prompt);
        return TextGenerator.Generate(Model.Module, Model.Tokenizer, text, raw ? options : WithStops(options), onText: onText);
    }

    public void Dispose() => Model.Dispose();
}
