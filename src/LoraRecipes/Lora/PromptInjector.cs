using LoraRecipes.Models;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// Attaches a prompt-learning module (<see cref="PromptEmbedding"/> or <see cref="PromptEncoder"/>) to a model that takes
/// virtual tokens (<see cref="IVirtualTokenHost"/>) and freezes everything else. The module is registered as the model's
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

    /// <summary>Registers <paramref name="module"/> as the model's <c>prompt_encoder</c> and points the virtual-token slot at it.</summary>
    public static void Attach(nn.Module model, IVirtualTokenHost host, nn.Module module, int count, Func<Tensor> prompts)
    {
        if (host.VirtualTokens.Active)
            throw new InvalidOperationException("the model already has virtual tokens; a model takes one prompt-learning adapter.");
        model.register_module(ModuleName, module);
        host.VirtualTokens.Source = prompts;
        host.VirtualTokens.Count = count;
    }

    /// <summary>The model as a virtual-token host, or an error naming the family and the method.</summary>
    public static IVirtualTokenHost HostOf(nn.Module model, string method) =>
        model as IVirtualTokenHost ?? throw new LoraTargetException(
            $"method {method} needs a model family that takes virtual tokens before its input (Llama-style, GPT-2, BERT, DistilBERT); {model.GetType().Name} does not. Use method: lora.");
}
