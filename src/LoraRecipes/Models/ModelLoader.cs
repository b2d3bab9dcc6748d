using LoraRecipes.IO;
using LoraRecipes.IO.Hub;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>A base model ready for LoRA: the module, its tokenizer and where it came from.</summary>
public sealed class LoadedModel(nn.Module<Tensor, Tensor> module, TextTokenizer tokenizer, ModelConfig config, string folder) : IDisposable
{
    /// <summary>The model; named parameters follow HF paths.</summary>
    public nn.Module<Tensor, Tensor> Module { get; } = module;
    /// <summary>The model as a causal LM.</summary>
    public ICausalLM CausalLM => (ICausalLM)Module;
    /// <summary>The model as a sequence classifier, when it has a classification head (encoders, or loaded for one).</summary>
    public ISequenceClassifier? Classifier => Module as ISequenceClassifier;
    public TextTokenizer Tokenizer { get; } = tokenizer;
    public ModelConfig Config { get; } = config;
    /// <summary>The HF folder it was read from.</summary>
    public string Folder { get; } = folder;

    public void Dispose() => Module.Dispose();
}

/// <summary>Resolves a <c>base_model</c> to a folder and loads config, weights and tokenizer from it.</summary>
public static class ModelLoader
{
    /// <summary>The folder a plan's base model lives in (builtin models are generated into the cache first).</summary>
    public static string ResolveFolder(BaseModelReference reference) => reference.Kind switch
    {
        BaseModelKind.Builtin => BuiltinModels.Materialize(reference.Name),
        BaseModelKind.Folder => reference.Path ?? reference.Name,
        _ => DownloadFromHub(reference.Name, reference.Revision),
    };

    /// <summary>Fetches (or finds in the HF cache) a hub model and returns its snapshot folder.</summary>
    public static string DownloadFromHub(string repoId, string? revision, Action<HubProgress>? progress = null)
    {
        using var client = new HubClient(HubOptions.FromEnvironment(), progress);
        try
        {
            return client.DownloadAsync(repoId, revision).GetAwaiter().GetResult();
        }
        catch (HubException ex)
        {
            throw new ModelLoadException(revision is null ? repoId : $"{repoId}@{revision}", ex.Message);
        }
    }

    /// <summary>
    /// <c>builtin:&lt;name&gt;</c> → the generated folder in the cache; an existing folder → itself;
    /// <c>org/name[@rev]</c> → the hub snapshot (downloaded if needed).
    /// </summary>
    public static string ResolveFolder(string baseModel)
    {
        if (baseModel.StartsWith("builtin:", StringComparison.Ordinal)) return BuiltinModels.Materialize(baseModel["builtin:".Length..]);
        if (Directory.Exists(baseModel)) return Path.GetFullPath(baseModel);
        var hub = System.Text.RegularExpressions.Regex.Match(baseModel, @"^(?<id>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(@(?<rev>[\w./-]+))?$");
        if (hub.Success) return DownloadFromHub(hub.Groups["id"].Value, hub.Groups["rev"].Success ? hub.Groups["rev"].Value : null);
        throw new ModelLoadException(baseModel, "no such model folder. Point base_model at a Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer files), a hub id org/name[@revision], or builtin:tiny-llama.");
    }

    /// <summary>
    /// Loads the model onto <paramref name="device"/> in <paramref name="dtype"/>, in eval mode; with
    /// <paramref name="sequenceClassification"/>, the family's <c>*ForSequenceClassification</c> (an <see cref="ISequenceClassifier"/>)
    /// with <paramref name="labels"/> as its classes (default: config.json's <c>id2label</c>), as HF's
    /// <c>from_pretrained(…, num_labels=, id2label=)</c> does.
    /// </summary>
    public static LoadedModel Load(string folder, Device? device = null, ScalarType dtype = ScalarType.Float32, bool sequenceClassification = false,
        IReadOnlyList<string>? labels = null)
    {
        var config = ModelConfig.Load(Path.Combine(folder, "config.json"));
        if (sequenceClassification && labels is { Count: > 0 }) config = config with { Labels = labels };
        var tokenizer = TextTokenizer.Load(folder);
        var module = sequenceClassification ? ModelFamilies.CreateForSequenceClassification(config) : ModelFamilies.Create(config);
        try
        {
            LoadWeights(module, config, folder);
            if (dtype != ScalarType.Float32) module.to(dtype);
            if (device is not null && device.type != DeviceType.CPU) module.to(device);
            module.eval();
            return new LoadedModel(module, tokenizer, config, folder);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>Copies every parameter from the folder's safetensors, checking names and shapes first.</summary>
    public static void LoadWeights(nn.Module module, ModelConfig config, string folder)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(folder);
        using var guard = no_grad();
        var layout = module as ICheckpointLayout;
        using var fresh = new Generator(0);   // newly initialised heads are the same on every load
        foreach (var (name, p) in module.named_parameters())
        {
            if (config.TieWordEmbeddings && name == "lm_head.weight" && !checkpoint.Contains(name)) continue;
            string? storedName = layout is null ? (checkpoint.Contains(name) ? name : null) : layout.CheckpointNames(name).FirstOrDefault(checkpoint.Contains);
            if (storedName is null && layout?.MayBeMissing(name) == true)
            {
                if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
                else p.normal_(0, HfCheckpoint.InitializerRange, fresh);
                continue;
            }
            if (storedName is null)
                throw new ModelLoadException(folder, $"the checkpoint has no tensor '{name}' that a {config.ModelType} model needs; is config.json from the same model?");
            using var read = checkpoint.ReadTensor(storedName);
            // Conv1D (GPT-2) stores [in, out]; the nn.Linear here holds [out, in].
            using var stored = layout?.IsTransposed(name) == true ? read.t() : read.alias();
            if (!stored.shape.SequenceEqual(p.shape))
                throw new ModelLoadException(folder, $"tensor '{name}' has shape [{string.Join(", ", stored.shape)}] but config.json implies [{string.Join(", ", p.shape)}].");
            p.copy_(stored);
        }
    }
}
