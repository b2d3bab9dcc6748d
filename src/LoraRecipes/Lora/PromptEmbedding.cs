using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // PEFT's module name: embedding

namespace LoraRecipes.Lora;

/// <summary>
/// PEFT's <c>PromptEmbedding</c> (PROMPT_TUNING): n trained virtual-token embeddings, an <c>embedding</c> table (n, H) put
/// before every input. Also what an inference-mode P_TUNING adapter is once loaded: PEFT saves p-tuning's encoder output
/// as <c>prompt_embeddings</c> and reads it back into this plain table.
/// </summary>
public sealed class PromptEmbedding : Module, IAdapterModule
{
    /// <summary>The one tensor PEFT saves for a prompt-learning adapter: (n · num_transformer_submodules, token_dim).</summary>
    public const string SavedName = "prompt_embeddings";

    /// <summary>PEFT's <c>peft_type</c> for prompt tuning.</summary>
    public const string Type = "PROMPT_TUNING";

    private readonly Embedding embedding;

    /// <summary>
    /// (n, H) embeddings: N(0, 1) as torch.nn.Embedding (PEFT's RANDOM), or <paramref name="init"/> (PEFT's TEXT: the
    /// word embeddings of init_text's tokens), copied in fp32.
    /// </summary>
    public PromptEmbedding(int numVirtualTokens, long tokenDim, Device device, Tensor? init = null, Generator? generator = null, string peftType = Type)
        : base(nameof(PromptEmbedding))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numVirtualTokens, 1);
        PeftType = peftType;
        NumVirtualTokens = numVirtualTokens;
        embedding = Embedding(numVirtualTokens, tokenDim, device: device);
        using (no_grad())
        {
            if (init is null) embedding.weight!.normal_(0.0, 1.0, generator);   // Tensor.normal_: nn.init.normal_ did not take the generator (two runs differed)
            else embedding.weight!.copy_(init.to(ScalarType.Float32));
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public string PeftType { get; }

    /// <summary>n.</summary>
    public int NumVirtualTokens { get; }

    /// <summary>The virtual-token embeddings (n, H): PEFT's <c>prompt_encoder(prompt_tokens)</c>.</summary>
    public Tensor Prompts() => embedding.weight!.alias();

    /// <inheritdoc />
    public long TrainableParameterCount => embedding.weight!.numel();

    /// <inheritdoc />
    public IEnumerable<(string Name, Tensor Value)> SavedTensors()
    {
        yield return (SavedName, embedding.weight!.detach().cpu().to(ScalarType.Float32).contiguous());
    }

    /// <inheritdoc />
    public IEnumerable<(string Name, Tensor Target)> LoadTargets()
    {
        yield return (SavedName, embedding.weight!);
    }
}
