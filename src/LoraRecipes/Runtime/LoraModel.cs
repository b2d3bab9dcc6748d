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
/// A base model with one or more adapters over it, for the consuming application: load once, then
/// <see cref="Generate"/> (raw prompt) or <see cref="Respond"/> (instruction formatted with the recipe's
/// prompt template); for sequence-classification (SEQ_CLS) adapters, <see cref="Classify"/>. Works with adapters
/// this project trained and with adapters PEFT wrote (LoRA, DoRA, IA3, mixed).
/// <para>
/// Several adapters share one copy of the base weights (<see cref="LoadMany"/>, <see cref="LoadAdapter"/>, as PEFT's
/// <c>load_adapter</c>); <see cref="SetAdapter"/> picks the default one, <see cref="DisableAdapters"/> serves the base
/// alone, <see cref="UnloadAdapter"/> removes one, and every call can name its adapter (<c>adapter:</c>, <see cref="BaseOnly"/> for the base). Thread-safe: one
/// lock per instance covers the adapter selection and the forward passes of a call, so parallel callers are served
/// one call at a time, each with its own adapter (libtorch already spreads one forward over the cores).
/// </para>
/// </summary>
/// <example>
/// <code>
/// // The build (a &lt;LoraRecipe&gt; whose recipe says name: medical-qa) copied the adapter to lora/medical-qa/.
/// using var model = LoraModel.LoadBuilt("medical-qa");
/// Console.WriteLine(model.Respond("请介绍一下什么是高血压"));
/// // Every adapter the build produced, over one base: route per call.
/// using var all = LoraModel.LoadAllBuilt();
/// Console.WriteLine(all.Respond("…", adapter: "medical-qa"));
/// </code>
/// </example>
public sealed partial class LoraModel : IDisposable
{
    /// <summary>The <c>adapter:</c> value that means the base model alone, no adapter (PEFT's <c>disable_adapter()</c>).</summary>
    public const string BaseOnly = "";

    private readonly LoadedModel _model;
    private readonly TorchSharp.torch.Device _device;
    private readonly AdapterSet _adapters;
    private readonly object _gate = new();
    private string? _default;

    private LoraModel(LoadedModel model, TorchSharp.torch.Device device, bool merged)
    {
        (_model, _device, IsMerged) = (model, device, merged);
        _adapters = new AdapterSet(model);
        Task = model.Classifier is null ? TaskType.CausalLm : TaskType.SequenceClassification;
    }

    /// <summary>The default adapter's folder (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>); the first one loaded when adapters are disabled.</summary>
    public string AdapterFolder => Current().Folder.Path;

    /// <summary>The base model's Hugging Face folder (builtin models: the generated folder in the cache).</summary>
    public string BaseModelFolder => _model.Folder;

    /// <summary>True when the adapter was folded into the base weights (W₀ + s·B·A) on load (one adapter only).</summary>
    public bool IsMerged { get; }

    /// <summary>The adapters' task (all adapters over one base share it): <see cref="TaskType.CausalLm"/> or <see cref="TaskType.SequenceClassification"/>.</summary>
    public TaskType Task { get; }

    /// <summary>The default adapter's wrapped modules by path (<c>model.layers.0.self_attn.q_proj</c>…).</summary>
    public IReadOnlyDictionary<string, IAdapterLayer> Modules => Current().Layers;

    /// <summary>The default adapter's prompt template (from its <c>recipe.resolved.yaml</c>), or null when its folder has no recipe.</summary>
    public PromptFormatter? PromptFormatter => Current().Formatter;

    /// <summary>The loaded adapters' names, in load order.</summary>
    public IReadOnlyList<string> Adapters
    {
        get { lock (_gate) return _adapters.Names.ToArray(); }
    }

    /// <summary>The adapter calls use when they name none: the first loaded, or <see cref="SetAdapter"/>'s; null after <see cref="DisableAdapters"/>.</summary>
    public string? ActiveAdapter
    {
        get { lock (_gate) return _default; }
    }

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
        return Open(baseModel, [(null, adapterFolder)], merge, device);
    }

    /// <summary>
    /// Loads the base once and every adapter in <paramref name="adapterFolders"/> over it, each named after its folder
    /// (<c>artifacts/medical-qa</c> → <c>medical-qa</c>); the first is the default. The adapters may mix methods (LoRA,
    /// DoRA, IA3) but must share the base model (the folder <c>base_model_name_or_path</c> resolves to, unless
    /// <paramref name="baseModel"/> names it) and the task; SEQ_CLS adapters each keep their own head, of one shape.
    /// </summary>
    /// <exception cref="AdapterLoadException">An adapter is unreadable, or its base, task or head does not match the first's; the message names its folder.</exception>
    public static LoraModel LoadMany(IEnumerable<string> adapterFolders, string? baseModel = null, string device = "cpu")
    {
        ArgumentNullException.ThrowIfNull(adapterFolders);
        return Open(baseModel, adapterFolders.Select(f => ((string?)null, f)).ToList(), merge: false, device);
    }

    /// <summary>
    /// Loads the adapter in <paramref name="adapterFolder"/> over this model's base, as <paramref name="name"/> (default: the
    /// folder's name), like PEFT's <c>load_adapter(path, adapter_name)</c>; the default adapter does not change.
    /// </summary>
    /// <returns>The name the adapter is selected by.</returns>
    /// <exception cref="AdapterLoadException">Another base model or task, another head shape, or a name already taken; the message names the folder.</exception>
    /// <exception cref="InvalidOperationException">The model was loaded with <c>merge: true</c>.</exception>
    public string LoadAdapter(string adapterFolder, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(adapterFolder);
        if (IsMerged) throw new InvalidOperationException("this LoraModel was loaded with merge: true, which folds its one adapter into the base weights; load without merge to serve several adapters.");
        var folder = Artifacts.AdapterFolder.Open(adapterFolder);
        lock (_gate) return AddLocked(folder, name, baseModel: _explicitBase);
    }

    /// <summary>
    /// Removes the adapter <paramref name="name"/> at run time (PEFT's <c>delete_adapter</c>): its layers and head leave
    /// the model, the base weights and the other adapters are untouched, and if it was the default the first remaining
    /// adapter (in load order) becomes the default. Takes the same lock as the calls, so it waits for a call in progress
    /// and no later call sees half of it. The name can then be loaded again.
    /// </summary>
    /// <exception cref="ArgumentException">No adapter of that name is loaded; the message lists those that are.</exception>
    /// <exception cref="InvalidOperationException">It is the last adapter (dispose the model instead), or the model was loaded with <c>merge: true</c>.</exception>
    public void UnloadAdapter(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (IsMerged) throw new InvalidOperationException("this LoraModel was loaded with merge: true, which folds its one adapter into the base weights; it cannot be unloaded.");
        lock (_gate)
        {
            _ = _adapters[name];
            if (_adapters.Names.Count == 1)
                throw new InvalidOperationException($"'{name}' is the only adapter loaded; a LoraModel holds at least one: dispose it, or load another adapter first.");
            _adapters.Remove(name);
            if (_default == name) _default = _adapters.Names[0];
        }
    }

    /// <summary>Makes <paramref name="name"/> the adapter of calls that name none (PEFT's <c>set_adapter</c>).</summary>
    /// <exception cref="ArgumentException">No adapter of that name is loaded; the message lists those that are.</exception>
    public void SetAdapter(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_gate)
        {
            _ = _adapters[name];
            if (IsMerged && name != _default) throw new InvalidOperationException("a merged LoraModel holds one adapter.");
            _default = name;
        }
    }

    /// <summary>Calls that name no adapter use the base model alone until <see cref="SetAdapter"/> (PEFT's <c>disable_adapter()</c>).</summary>
    /// <exception cref="InvalidOperationException">The adapter was merged into the base weights on load.</exception>
    public void DisableAdapters()
    {
        if (IsMerged) throw new InvalidOperationException("the adapter was merged into the base weights on load; load without merge to switch it off.");
        lock (_gate) _default = null;
    }

    private string? _explicitBase;

    private static LoraModel Open(string? baseModel, IReadOnlyList<(string? Name, string Folder)> adapters, bool merge, string device)
    {
        if (adapters.Count == 0) throw new ArgumentException("give at least one adapter folder.", nameof(adapters));
        var folders = adapters.Select(a => (a.Name, Folder: Artifacts.AdapterFolder.Open(a.Folder))).ToList();
        if (merge && folders.FirstOrDefault(f => f.Folder.Config.IsPromptLearning) is { Folder: { } prompt })
            throw new Artifacts.AdapterLoadException(prompt.Path, Artifacts.PromptAdapterLoader.NotMergeable);
        var first = folders[0].Folder;
        var target = DeviceSelection.Resolve(device);
        string baseFolder = ModelLoader.ResolveFolder(first.BaseModel(baseModel));
        var model = first.IsSequenceClassification
            ? ModelLoader.Load(baseFolder, target, sequenceClassification: true, labels: first.Labels(baseFolder))
            : ModelLoader.Load(baseFolder, target);
        var result = new LoraModel(model, target, merge) { _explicitBase = baseModel };
        try
        {
            lock (result._gate)
            {
                foreach (var (name, folder) in folders) result.AddLocked(folder, name, baseModel);
                if (merge) foreach (var layer in result._adapters[result._default!].Layers.Values) layer.Merge();
            }
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private string AddLocked(AdapterFolder folder, string? name, string? baseModel)
    {
        name ??= Path.GetFileName(folder.Path.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        _adapters.Add(name, folder, baseModel);
        // Adapter layers are created beside the base weights; move anything left on the CPU.
        if (_device.type != TorchSharp.DeviceType.CPU) _model.Module.to(_device);
        _default ??= _adapters.Names.Count == 1 ? name : _default;
        return name;
    }

    /// <summary>The default adapter, or the first one when adapters are disabled (for folder, modules and template).</summary>
    private LoadedAdapter Current()
    {
        lock (_gate) return _adapters[_default ?? _adapters.Names[0]];
    }

    /// <summary>Under the lock: selects the call's adapter (null: the default; <see cref="BaseOnly"/>: none) and runs <paramref name="body"/>.</summary>
    private T Run<T>(string? adapter, Func<LoadedAdapter?, T> body)
    {
        lock (_gate)
        {
            string? name = adapter is null ? _default : adapter.Length == 0 ? null : adapter;
            if (IsMerged && name != _default)
                throw new InvalidOperationException("the adapter was merged into the base weights on load; load without merge to switch adapters per call.");
            var selected = name is null ? null : _adapters[name];
            _adapters.Select(name);
            return body(selected);
        }
    }

    /// <summary>
    /// Continues <paramref name="prompt"/> as given (no template): greedy by default, sampling when
    /// <see cref="GenerationOptions.Temperature"/> &gt; 0. <paramref name="onText"/>, when given, receives the text as it
    /// is generated, in whole characters (a character split across tokens arrives once, complete); the pieces joined
    /// equal the returned text.
    /// </summary>
    /// <param name="prompt">The text to continue.</param>
    /// <param name="options">Decoding options.</param>
    /// <param name="onText">Receives the text as it is generated (called while this model's lock is held: keep it short).</param>
    /// <param name="adapter">The adapter for this call; null: <see cref="ActiveAdapter"/>; <see cref="BaseOnly"/>: the base alone.</param>
    public string Generate(string prompt, GenerationOptions? options = null, Action<string>? onText = null, string? adapter = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        RequireCausalLm(nameof(Generate));
        return Run(adapter, _ => TextGenerator.Generate(_model.Module, _model.Tokenizer, prompt, options ?? new GenerationOptions(), _device, onText));
    }

    /// <summary>
    /// Answers an instruction the way the adapter was trained: formats it with the adapter's recipe prompt template
    /// (<c>alpaca</c>, <c>chatml</c>, …) and stops at the template's end-of-turn marker. With <see cref="BaseOnly"/> the
    /// first loaded adapter's template is used.
    /// </summary>
    /// <exception cref="InvalidOperationException">The adapter folder has no <c>recipe.resolved.yaml</c> (use <see cref="Generate"/>).</exception>
    /// <param name="instruction">The instruction.</param>
    /// <param name="input">The optional input (alpaca's <c>input</c>).</param>
    /// <param name="options">Decoding options.</param>
    /// <param name="onText">Receives the answer as it is generated, in whole characters.</param>
    /// <param name="adapter">The adapter for this call; null: <see cref="ActiveAdapter"/>; <see cref="BaseOnly"/>: the base alone.</param>
    public string Respond(string instruction, string input = "", GenerationOptions? options = null, Action<string>? onText = null, string? adapter = null)
    {
        RequireCausalLm(nameof(Respond));
        return Run(adapter, selected =>
        {
            var chosen = selected ?? _adapters[_adapters.Names[0]];
            var formatter = chosen.Formatter ?? throw new InvalidOperationException(
                $"{chosen.Folder.Path} has no {ArtifactFiles.ResolvedRecipe}, so the prompt template is unknown; call Generate with a formatted prompt.");
            var decoding = options ?? new GenerationOptions();
            if (formatter.EndOfTurn.Length > 0 && !decoding.StopStrings.Contains(formatter.EndOfTurn))
                decoding = decoding with { StopStrings = [.. decoding.StopStrings, formatter.EndOfTurn] };
            return TextGenerator.Generate(_model.Module, _model.Tokenizer, formatter.FormatPrompt(instruction, input), decoding, _device, onText);
        });
    }

    /// <summary>Class names by id (<c>id2label</c>) of the default SEQ_CLS adapter; empty for causal-lm.</summary>
    public IReadOnlyList<string> Labels => Task == TaskType.SequenceClassification ? Current().Labels : Array.Empty<string>();

    /// <summary>
    /// Classifies <paramref name="text"/> with a sequence-classification (SEQ_CLS) adapter: the most probable label
    /// and the softmax probability of every label, in the adapter's label order. The text is encoded as in
    /// training (<c>[CLS] … [SEP]</c> for BERT-style models) and cut to the recipe's <c>data.max_length</c>.
    /// </summary>
    /// <param name="text">The text to classify.</param>
    /// <param name="adapter">The adapter (and head) for this call; null: <see cref="ActiveAdapter"/>; <see cref="BaseOnly"/>: the base with its own head.</param>
    /// <exception cref="NotSupportedException">The adapters are causal-lm adapters.</exception>
    public ClassificationPrediction Classify(string text, string? adapter = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_model.Classifier is not { } classifier)
            throw new NotSupportedException("this adapter is a causal-lm adapter: use Generate or Respond. Classify needs a sequence-classification adapter.");
        return Run(adapter, selected =>
        {
            var labels = selected?.Labels ?? classifier.Labels;
            int maxLength = selected?.MaxLength ?? _model.Config.MaxPositionEmbeddings;
            var probabilities = ClassificationEvaluator.Probabilities(classifier, _model.Tokenizer, text, maxLength, _device);
            int best = Array.IndexOf(probabilities, probabilities.Max());
            var byLabel = labels.Select((l, i) => (l, p: probabilities[i])).ToDictionary(x => x.l, x => x.p, StringComparer.Ordinal);
            return new ClassificationPrediction(labels[best], probabilities[best], byLabel);
        });
    }

    /// <summary>The logits (V) at the last position of <paramref name="prompt"/> under the call's adapter (for tests: exact comparisons).</summary>
    internal float[] LastLogits(string prompt, string? adapter = null) => Run(adapter, _ =>
    {
        using var guard = TorchSharp.torch.inference_mode();
        using var scope = TorchSharp.torch.NewDisposeScope();
        var ids = _model.Tokenizer.Encode(prompt, addSpecialTokens: true).Select(i => (long)i).ToArray();
        var input = TorchSharp.torch.tensor(ids, [1, ids.Length]).to(_device);
        var logits = ((TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>)_model.Module).forward(input);
        return logits[0, -1].to(TorchSharp.torch.ScalarType.Float32).cpu().data<float>().ToArray();
    });

    public void Dispose()
    {
        _adapters.Dispose();
        _model.Dispose();
    }

    private void RequireCausalLm(string method)
    {
        if (Task != TaskType.CausalLm) throw new NotSupportedException($"{method} needs a causal-lm adapter; this one is {Task}.");
    }
}
