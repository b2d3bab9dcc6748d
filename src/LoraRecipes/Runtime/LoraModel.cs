using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Training;
using TorchSharp;

namespace LoraRecipes.Runtime;

/// <summary>
/// A base model with a LoRA adapter applied, for the consuming application: load once, then
/// <see cref="Generate"/> (raw prompt) or <see cref="Respond"/> (instruction formatted with the recipe's
/// prompt template); for a sequence-classification (SEQ_CLS) adapter, <see cref="Classify"/>. Works with adapters
/// this project trained and with adapters PEFT wrote. Not
/// thread-safe: one generation at a time per instance.
/// </summary>
/// <example>
/// <code>
/// // The build (a &lt;LoraRecipe&gt; whose recipe says name: medical-qa) copied the adapter to lora/medical-qa/.
/// using var model = LoraModel.LoadBuilt("medical-qa");
/// Console.WriteLine(model.Respond("请介绍一下什么是高血压"));
/// </code>
/// </example>
public sealed class LoraModel : IDisposable
{
    private readonly LoadedModel _model;
    private readonly TorchSharp.torch.Device _device;
    private int _maxLength = 512;

    private LoraModel(LoadedModel model, TorchSharp.torch.Device device, string adapterFolder, IReadOnlyDictionary<string, IAdapterLayer> adapters,
        bool merged, TaskType task, PromptFormatter? formatter)
    {
        (_model, _device, AdapterFolder, Modules, IsMerged, Task, PromptFormatter) = (model, device, adapterFolder, adapters, merged, task, formatter);
    }

    /// <summary>The adapter folder (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>).</summary>
    public string AdapterFolder { get; }

    /// <summary>The base model's Hugging Face folder (builtin models: the generated folder in the cache).</summary>
    public string BaseModelFolder => _model.Folder;

    /// <summary>True when the adapter was folded into the base weights (W₀ + s·B·A) on load.</summary>
    public bool IsMerged { get; }

    /// <summary>The recipe's task; <see cref="TaskType.CausalLm"/> for PEFT adapters without a recipe.</summary>
    public TaskType Task { get; }

    /// <summary>The wrapped modules by path (<c>model.layers.0.self_attn.q_proj</c>…).</summary>
    public IReadOnlyDictionary<string, IAdapterLayer> Modules { get; }

    /// <summary>The recipe's prompt template (from <c>recipe.resolved.yaml</c>), or null when the folder has no recipe.</summary>
    public PromptFormatter? PromptFormatter { get; }

    /// <summary>
    /// Where the build put the adapter named <paramref name="name"/> (the recipe's <c>name</c>, or the item's
    /// <c>AdapterName</c>): <c>&lt;app folder&gt;/lora/&lt;name&gt;</c> (<see cref="AdapterNames"/>).
    /// </summary>
    public static string BuiltFolder(string name, string? appFolder = null) =>
        AdapterNames.FolderIn(appFolder ?? AppContext.BaseDirectory, name);

    /// <summary>
    /// Loads the adapter a <c>&lt;LoraRecipe&gt;</c> build copied beside the application: <see cref="BuiltFolder"/>.
    /// </summary>
    /// <param name="name">The recipe's <c>name</c> (or the item's <c>AdapterName</c>), e.g. <c>medical-qa</c>.</param>
    /// <param name="merge">Fold B·A into the base weights on load.</param>
    /// <param name="device"><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c>.</param>
    /// <exception cref="AdapterLoadException">No adapter of that name beside the application; the message lists those there.</exception>
    public static LoraModel LoadBuilt(string name, bool merge = false, string device = "cpu")
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        string folder = BuiltFolder(name);
        if (!File.Exists(Path.Combine(folder, ArtifactFiles.AdapterConfig))) throw NoBuiltAdapter(name, folder);
        return Load(folder, merge, device);
    }

    private static AdapterLoadException NoBuiltAdapter(string name, string folder)
    {
        string root = Path.GetDirectoryName(folder)!;
        string[] present = Directory.Exists(root)
            ? Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, ArtifactFiles.AdapterConfig)))
                .Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToArray()
            : [];
        string hint = present.Length == 0
            ? "no adapter is there: build the project first (dotnet build trains the <LoraRecipe> items)."
            : $"adapters there: {string.Join(", ", present)}. The folder is the recipe's name (or the item's {AdapterNames.NameMetadata}), not the recipe's file name.";
        return new AdapterLoadException(folder, $"no adapter named '{name}'; {hint}");
    }

    /// <summary>
    /// Loads the adapter in <paramref name="adapterFolder"/> onto the base model its
    /// <c>adapter_config.json</c> names (<c>base_model_name_or_path</c>: a folder or <c>builtin:&lt;name&gt;</c>).
    /// </summary>
    public static LoraModel Load(string adapterFolder, bool merge = false, string device = "cpu") => Load(null, adapterFolder, merge, device);

    /// <summary>
    /// Loads <paramref name="baseModel"/> (a Hugging Face folder or <c>builtin:&lt;name&gt;</c>) and applies the
    /// adapter in <paramref name="adapterFolder"/>; with <paramref name="merge"/> the update is folded into the
    /// base weights (faster generation, no unmerge needed for inference).
    /// </summary>
    /// <param name="baseModel">A Hugging Face model folder or <c>builtin:&lt;name&gt;</c>; null: the adapter's <c>base_model_name_or_path</c>.</param>
    /// <param name="adapterFolder">The adapter: ours (with its recipe) or one PEFT saved.</param>
    /// <param name="merge">Fold B·A into the base weights on load.</param>
    /// <param name="device"><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c>.</param>
    /// <exception cref="AdapterLoadException">The folder is missing, incomplete (the message names the file and the fix) or unreadable.</exception>
    public static LoraModel Load(string? baseModel, string adapterFolder, bool merge = false, string device = "cpu")
    {
        if (baseModel is not null) ArgumentException.ThrowIfNullOrEmpty(baseModel);
        ArgumentException.ThrowIfNullOrEmpty(adapterFolder);
        var adapter = Artifacts.AdapterFolder.Open(adapterFolder);
        var target = DeviceSelection.Resolve(device);
        var (model, adapters) = adapter.Load(baseModel, target, merge);
        if (adapter.IsSequenceClassification)
        {
            return new LoraModel(model, target, adapter.Path, adapters, merge, TaskType.SequenceClassification, null)
            {
                _maxLength = adapter.Recipe?.Data.MaxLength ?? model.Config.MaxPositionEmbeddings,
            };
        }
        try
        {
            var formatter = adapter.Formatter(model.Tokenizer);
            return new LoraModel(model, target, adapter.Path, adapters, merge, adapter.Recipe?.Task ?? TaskType.CausalLm, formatter);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Continues <paramref name="prompt"/> as given (no template): greedy by default, sampling when
    /// <see cref="GenerationOptions.Temperature"/> &gt; 0. <paramref name="onText"/>, when given, receives the text as it
    /// is generated, in whole characters (a character split across tokens arrives once, complete); the pieces joined
    /// equal the returned text.
    /// </summary>
    public string Generate(string prompt, GenerationOptions? options = null, Action<string>? onText = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        RequireCausalLm(nameof(Generate));
        return TextGenerator.Generate(_model.Module, _model.Tokenizer, prompt, options ?? new GenerationOptions(), _device, onText);
    }

    /// <summary>
    /// Answers an instruction the way the adapter was trained: formats it with the recipe's prompt template
    /// (<c>alpaca</c>, <c>chatml</c>, …) and stops at the template's end-of-turn marker.
    /// </summary>
    /// <exception cref="InvalidOperationException">The adapter folder has no <c>recipe.resolved.yaml</c> (use <see cref="Generate"/>).</exception>
    /// <param name="instruction">The instruction.</param>
    /// <param name="input">The optional input (alpaca's <c>input</c>).</param>
    /// <param name="options">Decoding options.</param>
    /// <param name="onText">Receives the answer as it is generated, in whole characters.</param>
    public string Respond(string instruction, string input = "", GenerationOptions? options = null, Action<string>? onText = null)
    {
        var formatter = PromptFormatter ?? throw new InvalidOperationException(
            $"{AdapterFolder} has no {ArtifactFiles.ResolvedRecipe}, so the prompt template is unknown; call Generate with a formatted prompt.");
        options ??= new GenerationOptions();
        if (formatter.EndOfTurn.Length > 0 && !options.StopStrings.Contains(formatter.EndOfTurn))
            options = options with { StopStrings = [.. options.StopStrings, formatter.EndOfTurn] };
        return Generate(formatter.FormatPrompt(instruction, input), options, onText);
    }

    /// <summary>Class names by id (<c>id2label</c>) of a sequence-classification adapter; empty for causal-lm.</summary>
    public IReadOnlyList<string> Labels => _model.Classifier?.Labels ?? Array.Empty<string>();

    /// <summary>
    /// Classifies <paramref name="text"/> with a sequence-classification (SEQ_CLS) adapter: the most probable label
    /// and the softmax probability of every label, in <see cref="Labels"/> order. The text is encoded as in
    /// training (<c>[CLS] … [SEP]</c> for BERT-style models) and cut to the recipe's <c>data.max_length</c>.
    /// </summary>
    /// <exception cref="NotSupportedException">The adapter is a causal-lm adapter.</exception>
    public ClassificationPrediction Classify(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_model.Classifier is not { } classifier)
            throw new NotSupportedException("this adapter is a causal-lm adapter: use Generate or Respond. Classify needs a sequence-classification adapter.");
        var probabilities = ClassificationEvaluator.Probabilities(classifier, _model.Tokenizer, text, _maxLength, _device);
        int best = Array.IndexOf(probabilities, probabilities.Max());
        var byLabel = classifier.Labels.Select((l, i) => (l, p: probabilities[i])).ToDictionary(x => x.l, x => x.p, StringComparer.Ordinal);
        return new ClassificationPrediction(classifier.Labels[best], probabilities[best], byLabel);
    }

    public void Dispose() => _model.Dispose();

    private void RequireCausalLm(string method)
    {
        if (Task != TaskType.CausalLm) throw new NotSupportedException($"{method} needs a causal-lm adapter; this one is {Task}.");
    }
}
