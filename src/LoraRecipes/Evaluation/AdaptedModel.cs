using LoraRecipes.Data;
using LoraRecipes.Models;

namespace LoraRecipes.Evaluation;

/// <summary>
/// A base model with a trained adapter applied, plus the prompt template the adapter was trained with:
/// what <c>generate</c>, <c>chat</c> and generation metrics start from. Opened from an adapter folder by
/// <c>Runtime.AdaptedModels.Open</c>; owns (and disposes) the model.
/// </summary>
public sealed class AdaptedModel : IDisposable
{
    public AdaptedModel(LoadedModel model, PromptFormatter formatter, string adapterFolder)
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
