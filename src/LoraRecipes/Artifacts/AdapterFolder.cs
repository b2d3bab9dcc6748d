using LoraRecipes.Data;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>
/// An adapter folder, opened once: its PEFT config, our manifest and resolved recipe when it has them (adapters PEFT
/// wrote have neither), and from those the base model, the classes of a classifier and the prompt template. The one
/// way every front end — the runtime API, <c>eval</c>/<c>generate</c>/<c>chat</c>, <c>merge</c>, <c>inspect</c>,
/// <c>verify</c>, <c>report</c>, the ONNX export — reads an adapter (<see cref="ArtifactFiles"/> names the files).
/// </summary>
/// <example>
/// <code>
/// var adapter = AdapterFolder.Open("artifacts/medical-qa");
/// var (model, layers) = adapter.Load();   // base from adapter_config.json, LoRA applied
/// var formatter = adapter.Formatter(model.Tokenizer) ?? PromptFormatter.For(PromptTemplate.Alpaca);
/// </code>
/// </example>
public sealed class AdapterFolder
{
    private AdapterFolder(string path, PeftAdapterConfig? config, LoraManifest? manifest, Recipe? recipe)
    {
        (Path, _config, Manifest, Recipe) = (path, config, manifest, recipe);
    }

    private readonly PeftAdapterConfig? _config;

    /// <summary>The folder, absolute.</summary>
    public string Path { get; }

    /// <summary><c>adapter_config.json</c>.</summary>
    /// <exception cref="AdapterLoadException">The folder was opened without <c>requireAdapter</c> and has no config.</exception>
    public PeftAdapterConfig Config => _config ?? throw Missing(ArtifactFiles.AdapterConfig);

    /// <summary>True when the folder has an <c>adapter_config.json</c>.</summary>
    public bool HasConfig => _config is not null;

    /// <summary><c>lora-manifest.json</c>; null for adapters trained elsewhere.</summary>
    public LoraManifest? Manifest { get; }

    /// <summary>The recipe that trained it (<c>recipe.resolved.yaml</c>); null for adapters trained elsewhere.</summary>
    public Recipe? Recipe { get; }

    /// <summary>True for a sequence-classification (SEQ_CLS) adapter.</summary>
    public bool IsSequenceClassification => Config.IsSequenceClassification;

    /// <summary>The path of <paramref name="name"/> (one of <see cref="ArtifactFiles"/>) in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>
    /// Reads the folder. With <paramref name="requireAdapter"/> (default) it must hold an adapter —
    /// <c>adapter_config.json</c> and <c>adapter_model.safetensors</c>; without, a manifest alone will do (what
    /// <c>verify</c> and <c>inspect</c> can read).
    /// </summary>
    /// <exception cref="AdapterLoadException">
    /// No such folder, a missing file (named, with how to get it back), or a file that does not parse.
    /// </exception>
    public static AdapterFolder Open(string path, bool requireAdapter = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        path = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(path))
            throw new AdapterLoadException(path, "no such folder. Give the artifact folder that holds adapter_config.json (a recipe's output.dir), " +
                "or train it first: dotnet lora run <recipe>.");
        string configPath = System.IO.Path.Combine(path, ArtifactFiles.AdapterConfig);
        var config = System.IO.File.Exists(configPath) ? PeftAdapterConfig.Load(configPath) : null;
        var manifest = ReadManifest(path);
        if (config is null && manifest is null)
            throw new AdapterLoadException(path, $"neither {ArtifactFiles.AdapterConfig} nor {ArtifactFiles.Manifest} is here; is this an artifact folder?");
        var folder = new AdapterFolder(path, config, manifest, ReadRecipe(path));
        if (requireAdapter)
        {
            foreach (string name in ArtifactFiles.Required.Where(n => !System.IO.File.Exists(System.IO.Path.Combine(path, n))))
                throw folder.Missing(name);
        }
        return folder;
    }

    /// <summary>The base model to load: <paramref name="baseModel"/> when given, else the config's <c>base_model_name_or_path</c>.</summary>
    public string BaseModel(string? baseModel = null)
    {
        string spec = baseModel ?? Config.BaseModelNameOrPath;
        return spec.Length > 0 ? spec
            : throw new AdapterLoadException(File(ArtifactFiles.AdapterConfig), "names no base_model_name_or_path; give the base model (--base).");
    }

    /// <summary>
    /// Loads the base model (<see cref="BaseModel"/>) on <paramref name="device"/> and applies the adapter, dropout off;
    /// a SEQ_CLS adapter loads the base as a sequence classifier sized from <see cref="Labels"/>. With
    /// <paramref name="merge"/> B·A is folded into the base weights.
    /// </summary>
    public (LoadedModel Model, IReadOnlyDictionary<string, IAdapterLayer> Adapters) Load(string? baseModel = null, Device? device = null, bool merge = false)
    {
        string folder = ModelLoader.ResolveFolder(BaseModel(baseModel));
        var model = IsSequenceClassification
            ? ModelLoader.Load(folder, device, sequenceClassification: true, labels: Labels(folder))
            : ModelLoader.Load(folder, device);
        try
        {
            var adapters = Apply(model.Module, merge);
            // The LoRA layers are created on the CPU.
            if (device is { } d && d.type != TorchSharp.DeviceType.CPU) model.Module.to(d);
            return (model, adapters);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Applies the adapter to a model already loaded (<see cref="AdapterLoader"/>).</summary>
    public IReadOnlyDictionary<string, IAdapterLayer> Apply(nn.Module model, bool merge = false) => AdapterLoader.Apply(model, Config, Path, merge);

    /// <summary>
    /// The classes of a SEQ_CLS adapter by id: the manifest's labels (written by this project), else as many as the
    /// saved head has rows, named as in the base config when it has that many (<c>LABEL_i</c> otherwise) — the way
    /// PEFT users pass <c>num_labels</c>/<c>id2label</c> to <c>from_pretrained</c>. Null when neither says.
    /// </summary>
    public IReadOnlyList<string>? Labels(string? baseModelFolder = null)
    {
        if (Manifest?.Labels is { } labels) return Wrap(() => labels.ToList(File(ArtifactFiles.Manifest)));
        long? rows = HeadRows(File(ArtifactFiles.AdapterWeights));
        if (rows is not { } n) return null;
        var baseLabels = baseModelFolder is null ? null : ModelConfig.Load(System.IO.Path.Combine(baseModelFolder, "config.json")).Labels;
        return baseLabels?.Count == n ? baseLabels : Enumerable.Range(0, (int)n).Select(i => $"LABEL_{i}").ToArray();
    }

    /// <summary>
    /// The prompt formatter: <paramref name="template"/> when given, else the recipe's <c>data.prompt_template</c>;
    /// null when neither (an adapter PEFT wrote: callers fall back to a template of their choice).
    /// </summary>
    public PromptFormatter? Formatter(TextTokenizer tokenizer, string? template = null) =>
        template is not null ? PromptFormatter.For(template, tokenizer)
        : Recipe is { } recipe ? PromptFormatter.For(recipe.Data.PromptTemplate, tokenizer)
        : null;

    /// <summary>The AdapterLoadException for a missing <paramref name="name"/>, with how to get it back.</summary>
    private AdapterLoadException Missing(string name)
    {
        string fix = Manifest?.Provenance?.SourceRecipe is { } source
            ? $"train it again: dotnet lora run {source}" + string.Concat((Manifest.Provenance.Overrides ?? []).Select(o => $" --set {o}"))
            : "train it again (dotnet lora run <recipe>) or copy the whole folder";
        string what = name == ArtifactFiles.AdapterWeights
            ? "adapter_model.safetensors not found (adapter_model.bin is a pickle and is refused: convert it to safetensors)"
            : $"{name} not found";
        return new AdapterLoadException(File(name), $"{what}; the folder is incomplete: {fix}.");
    }

    private static LoraManifest? ReadManifest(string folder) => Wrap(() => LoraManifest.TryRead(folder));

    /// <summary>The recipe in <c>recipe.resolved.yaml</c>; null when there is none.</summary>
    private static Recipe? ReadRecipe(string folder)
    {
        string path = System.IO.Path.Combine(folder, ArtifactFiles.ResolvedRecipe);
        if (!System.IO.File.Exists(path)) return null;
        var loaded = RecipeLoader.Load(path);
        return loaded.Recipe ?? throw new AdapterLoadException(path, "the resolved recipe does not load: " +
            string.Join("; ", loaded.Diagnostics.Where(d => d.IsError).Select(d => d.ToString())));
    }

    /// <summary>Rows of the saved output head (<c>classifier.weight</c> or <c>score.weight</c>): num_labels.</summary>
    private static long? HeadRows(string weightsPath)
    {
        if (!System.IO.File.Exists(weightsPath)) return null;
        using var file = SafetensorsFile.Open(weightsPath);
        foreach (string head in new[] { "classifier", "score" })
        {
            // base_model.model.<head> after a tuner (LoRA, IA3…); base_model.<head> for a prompt-learning adapter.
            foreach (string key in new[] { $"{AdapterKeys.Prefix}{head}.weight", $"{AdapterKeys.PromptLearningPrefix}{head}.weight" })
            {
                if (file.Contains(key)) return file[key].Shape[0];
            }
        }
        return null;
    }

    /// <summary>The manifest's own format errors as this folder's load error (one exception type for a bad folder).</summary>
    private static T Wrap<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (ArtifactFormatException ex)
        {
            throw new AdapterLoadException(ex.Path, ex.Message[(ex.Path.Length + 2)..]);
        }
    }
}
