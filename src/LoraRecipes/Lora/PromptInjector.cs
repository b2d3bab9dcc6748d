using LoraRecipes.Models;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// Attaches a prompt-learning module (<see cref="PromptEmbedding"/> or <see cref="PromptEncoder"/>) to a model that takes
/// virtual tokens (<see cref="IVirtualTokenHost"/>), or a <see cref="PrefixEncoder"/> to one whose attention takes past keys
/// and values (<see cref="IPrefixHost"/>), and freezes everything else. The module is registered as the model's
/// <c>prompt_encoder</c> child (PEFT's attribute name), so its parameters are the model's <c>prompt_encoder.*</c>: the
/// trainer's optimizer and checkpoints find them like any adapter parameter.
/// </summary>
public static class PromptInjector
{
    /// <summary>The child name, and the key the module is reported under.</summary>
    public const string ModuleName = "prompt_encoder";

    /// <summary>Creates the method's module (initialised from the run's generator), attaches it, freezes the rest.</summary>
    /// <exception cref="LoraTargetException">The model family takes no virtual tokens.</exception>
    public static IReadOnlyDictionary<string, IAdapterModule> Inject(nn.Module model, PromptLearningSettings settings)
    {
        if (settings.Method == AdapterMethod.PrefixTuning) return InjectPrefix(model, settings);
        var host = HostOf(model, settings.Method == AdapterMethod.PTuning ? "p_tuning" : "prompt_tuning");
        var device = model.parameters().First().device;
        int n = settings.NumVirtualTokens;
        IAdapterModule module;
        Func<Tensor> prompts;
        if (settings.Method == AdapterMethod.PTuning)
        {
            var encoder = new PromptEncoder(n, host.TokenDim, settings.EncoderHiddenSize ?? host.TokenDim, settings.Encoder,
                settings.EncoderNumLayers, settings.EncoderDropout, device, settings.Generator);
            (module, prompts) = (encoder, encoder.Prompts);
        }
        else
        {
            Tensor? init = null;
            if (settings.InitTokenIds is { } ids)
            {
                using var guard = no_grad();
                using var tokens = tensor(PromptLearningSettings.RepeatToLength(ids, n).Select(i => (long)i).ToArray(), device: device);
                init = host.WordEmbeddings(tokens).detach();                   // (n, H): PEFT's TEXT init
            }
            using (init)
            {
                var embedding = new PromptEmbedding(n, host.TokenDim, device, init, settings.Generator);
                (module, prompts) = (embedding, embedding.Prompts);
            }
        }
        Attach(model, host, (nn.Module)module, n, prompts);
        LoraInjector.Freeze(model);
        return new SortedDictionary<string, IAdapterModule>(StringComparer.Ordinal) { [ModuleName] = module };
    }

    /// <summary>
    /// Prefix tuning: a <see cref="PrefixEncoder"/> sized from the model's geometry (PEFT's token_dim = kv_heads · head_dim,
    /// the projection's width <c>encoder_hidden_size</c>, by default token_dim), registered as <c>prompt_encoder</c>.
    /// </summary>
    private static IReadOnlyDictionary<string, IAdapterModule> InjectPrefix(nn.Module model, PromptLearningSettings settings)
    {
        var host = PrefixHostOf(model);
        var device = model.parameters().First().device;
        var slot = host.Prefix;
        int? projection = settings.PrefixProjection ? settings.EncoderHiddenSize ?? slot.TokenDim : null;
        var encoder = new PrefixEncoder(settings.NumVirtualTokens, slot.TokenDim, slot.FlatWidth, projection, device, settings.Generator);
        AttachPrefix(model, host, encoder);
        LoraInjector.Freeze(model);
        return new SortedDictionary<string, IAdapterModule>(StringComparer.Ordinal) { [ModuleName] = encoder };
    }

    /// <summary>Registers <paramref name="encoder"/> as the model's <c>prompt_encoder</c> (PEFT's name for prefix tuning too) and points the prefix slot at it.</summary>
    public static void AttachPrefix(nn.Module model, IPrefixHost host, PrefixEncoder encoder)
    {
        if (host.Prefix.Active || (model as IVirtualTokenHost)?.VirtualTokens.Active == true)
            throw new InvalidOperationException("the model already has a prompt-learning adapter; a model takes one.");
        model.register_module(ModuleName, encoder);
        host.Prefix.Source = encoder.Prefix;
        host.Prefix.Count = encoder.NumVirtualTokens;
    }

    /// <summary>The model as a prefix host, or an error naming the family.</summary>
    public static IPrefixHost PrefixHostOf(nn.Module model) =>
        model as IPrefixHost ?? throw new LoraTargetException(
            $"method prefix_tuning needs a model family whose attention takes past keys and values (Llama-style, GPT-2, BERT); {model.GetType().Name} does not " +
            "(HF's DistilBERT has no past_key_values, so PEFT cannot prefix-tune it either). Use prompt_tuning, p_tuning or lora.");

    /// <summary>Registers <paramref name="module"/> as the model's <c>prompt_encoder</c> and points the virtual-token slot at it.</summary>
    public static void Attach(nn.Module model, IVirtualTokenHost host, nn.Module module, int count, Func<Tensor> prompts)
    {
        if (host.VirtualTokens.Active || (model as IPrefixHost)?.Prefix.Active == true)
            throw new InvalidOperationException("the model already has a prompt-learning adapter; a model takes one.");
        model.register_module(ModuleName, module);
        host.VirtualTokens.Source = prompts;
        host.VirtualTokens.Count = count;
    }

    /// <summary>The model as a virtual-token host, or an error naming the family and the method.</summary>
    public static IVirtualTokenHost HostOf(nn.Module model, string method) =>
        model as IVirtualTokenHost ?? throw new LoraTargetException(
            $"method {method} needs a model family that takes virtual tokens before its input (Llama-style, GPT-2, BERT, DistilBERT); {model.GetType().Name} does not. Use method: lora.");
}
