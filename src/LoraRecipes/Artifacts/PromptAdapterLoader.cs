using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes.Artifacts;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>
/// Applies a PROMPT_TUNING or P_TUNING adapter: its <c>prompt_embeddings</c> (n, token_dim) become the model's virtual
/// tokens (a <see cref="PromptEmbedding"/>, as PEFT's inference mode loads both types); or a PREFIX_TUNING adapter: its
/// <c>prompt_embeddings</c> (n, L·2·token_dim) become every layer's past keys and values (an unprojected
/// <see cref="PrefixEncoder"/>, as PEFT's inference mode). Its <c>modules_to_save</c> (a SEQ_CLS head, saved as
/// <c>base_model.classifier.weight</c>) are copied into the model's own modules.
/// </summary>
internal static class PromptAdapterLoader
{
    /// <summary>Why a prompt-learning adapter is never merged.</summary>
    public const string NotMergeable = "a PROMPT_TUNING / P_TUNING / PREFIX_TUNING adapter adds virtual tokens before the input or past keys and values to the attention; there is no weight to fold it into " +
        "(PEFT cannot merge it either). Use the adapter unmerged: eval, generate, chat and classify load it as is.";

    /// <summary>Attaches the virtual tokens and copies the head; returns no wrapped layers (none exist).</summary>
    public static IReadOnlyDictionary<string, IAdapterLayer> Apply(nn.Module model, PeftAdapterConfig config, string adapterFolder, bool merge)
    {
        if (merge) throw new AdapterLoadException(adapterFolder, NotMergeable);
        string weightsPath = Path.Combine(adapterFolder, ArtifactFiles.AdapterWeights);
        if (!File.Exists(weightsPath))
            throw new AdapterLoadException(weightsPath, "adapter_model.safetensors not found (adapter_model.bin is a pickle and is refused: convert it to safetensors).");
        IVirtualTokenHost? host = null;
        IPrefixHost? prefixHost = null;
        if (config.IsPrefixTuning)
        {
            prefixHost = model as IPrefixHost ?? throw new AdapterLoadException(adapterFolder,
                $"is a PREFIX_TUNING adapter, but {model.GetType().Name} takes no past keys and values (Llama-style, GPT-2 and BERT do; DistilBERT does not, in HF either).");
        }
        else
        {
            host = model as IVirtualTokenHost ?? throw new AdapterLoadException(adapterFolder,
                $"is a {config.PeftType} adapter, but {model.GetType().Name} takes no virtual tokens (Llama-style, GPT-2, BERT and DistilBERT do).");
        }

        using var file = SafetensorsFile.Open(weightsPath);
        if (!file.Contains(PromptEmbedding.SavedName))
            throw new AdapterLoadException(weightsPath, $"a {config.PeftType} adapter needs the tensor '{PromptEmbedding.SavedName}'.");
        var shape = file[PromptEmbedding.SavedName].Shape;
        long width = prefixHost?.Prefix.FlatWidth ?? host!.TokenDim;
        string what = prefixHost is { } ph
            ? $"{ph.Prefix.Layers} layers × 2 × token_dim {ph.Prefix.TokenDim} (key/value heads × head width) = {width}"
            : $"hidden size {width}";
        if (shape.Length != 2 || shape[0] != config.NumVirtualTokens * config.NumTransformerSubmodules || shape[1] != width)
            throw new AdapterLoadException(weightsPath, $"'{PromptEmbedding.SavedName}' has shape [{string.Join(", ", shape)}] but num_virtual_tokens {config.NumVirtualTokens} " +
                $"over this base model ({what}) needs [{config.NumVirtualTokens}, {width}]; was the adapter trained on another model?");

        var heads = (config.ModulesToSave ?? []).ToList();
        if (config.IsSequenceClassification) heads.AddRange(["classifier", "score"]);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter, StringComparer.Ordinal);
        var device = model.parameters().First().device;
        using var guard = no_grad();
        foreach (var info in file.Tensors.Where(t => t.Name != PromptEmbedding.SavedName))
        {
            string parameter = HeadParameter(info.Name, heads)
                ?? throw new AdapterLoadException(weightsPath, $"tensor '{info.Name}' is neither '{PromptEmbedding.SavedName}' nor a parameter of modules_to_save [{string.Join(", ", heads)}].");
            if (!parameters.TryGetValue(parameter, out var target))
                throw new AdapterLoadException(weightsPath, $"tensor '{info.Name}' is for '{parameter}', which this base model does not have.");
            using var stored = file.ReadTensor(info.Name);
            if (!stored.shape.SequenceEqual(target.shape))
                throw new AdapterLoadException(weightsPath, $"tensor '{info.Name}' has shape [{string.Join(", ", stored.shape)}] but this base model needs [{string.Join(", ", target.shape)}].");
            target.copy_(stored);
        }
        using var prompts = file.ReadTensor(PromptEmbedding.SavedName);
        nn.Module attached;
        if (prefixHost is not null)
        {
            var prefix = new PrefixEncoder((int)shape[0], prefixHost.Prefix.TokenDim, width, null, device, init: prompts);
            PromptInjector.AttachPrefix(model, prefixHost, prefix);
            attached = prefix;
        }
        else
        {
            var embedding = new PromptEmbedding((int)shape[0], host!.TokenDim, device, prompts, peftType: config.PeftType);
            PromptInjector.Attach(model, host, embedding, embedding.NumVirtualTokens, embedding.Prompts);
            attached = embedding;
        }
        foreach (var p in attached.parameters()) p.requires_grad = false;
        attached.eval();
        return new SortedDictionary<string, IAdapterLayer>(StringComparer.Ordinal);
    }

    /// <summary><c>base_model.classifier.weight</c> (PEFT's prompt-learning form; <c>base_model.model.</c> and the in-memory <c>.modules_to_save.default.</c> too) → <c>classifier.weight</c>.</summary>
    private static string? HeadParameter(string key, IReadOnlyList<string> heads)
    {
        string rest = key.StartsWith(AdapterKeys.Prefix, StringComparison.Ordinal) ? key[AdapterKeys.Prefix.Length..]
            : key.StartsWith(AdapterKeys.PromptLearningPrefix, StringComparison.Ordinal) ? key[AdapterKeys.PromptLearningPrefix.Length..]
            : key;
        rest = rest.Replace(".modules_to_save.default.", ".", StringComparison.Ordinal);
        return heads.Any(m => rest.StartsWith(m + ".", StringComparison.Ordinal) || rest.Contains("." + m + ".", StringComparison.Ordinal)) ? rest : null;
    }
}
