using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // PEFT's module names: embedding, transform

namespace LoraRecipes.Lora;

/// <summary>
/// PEFT's <c>PrefixEncoder</c> (PREFIX_TUNING): the flat prefix (n, L·2·token_dim) that becomes every layer's n past keys
/// and values (see <see cref="Models.PrefixSlot"/> for the layout), token_dim = kv_heads · head_dim.
/// <list type="bullet">
/// <item>Without projection: an <c>embedding</c> (n, L·2·token_dim), trained directly.</item>
/// <item>With <c>prefix_projection</c>: an <c>embedding</c> (n, token_dim) re-parameterised by
/// <c>transform</c> = Linear(token_dim, h) → tanh → Linear(h, L·2·token_dim), the MLP of Li &amp; Liang and P-tuning v2.</item>
/// </list>
/// PEFT saves <c>prompt_embeddings</c> = the encoder's output at save time and loads it into the plain embedding of an
/// inference-mode model, so a projected prefix is saved already projected (checkpoints keep the MLP).
/// </summary>
public sealed class PrefixEncoder : Module, IAdapterModule
{
    /// <summary>PEFT's <c>peft_type</c> for prefix tuning.</summary>
    public const string Type = "PREFIX_TUNING";

    private readonly Embedding embedding;
    private readonly Sequential? transform;

    /// <summary>
    /// Initialised as PyTorch does, from <paramref name="generator"/>: the embedding N(0, 1); each linear's weight and bias
    /// U(±1/√fan_in) (kaiming-uniform with a = √5). <paramref name="init"/> (n, L·2·token_dim) replaces the embedding of an
    /// unprojected encoder (a loaded adapter).
    /// </summary>
    public PrefixEncoder(int numVirtualTokens, int tokenDim, long flatWidth, int? projectionHiddenSize, Device device, Generator? generator = null, Tensor? init = null)
        : base(nameof(PrefixEncoder))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numVirtualTokens, 1);
        (NumVirtualTokens, FlatWidth, ProjectionHiddenSize) = (numVirtualTokens, flatWidth, projectionHiddenSize);
        if (projectionHiddenSize is { } h)
        {
            if (init is not null) throw new ArgumentException("a projected prefix starts from its MLP, not a saved table", nameof(init));
            embedding = Embedding(numVirtualTokens, tokenDim, device: device);
            transform = Sequential(Linear(tokenDim, h, device: device), Tanh(), Linear(h, flatWidth, device: device));
        }
        else
        {
            embedding = Embedding(numVirtualTokens, flatWidth, device: device);
        }
        using (no_grad())
        {
            if (init is null) embedding.weight!.normal_(0.0, 1.0, generator);   // Tensor.normal_: nn.init.normal_ ignores the generator
            else embedding.weight!.copy_(init.to(ScalarType.Float32));
            if (transform is not null) SeededInit.Linears(transform.children(), generator);
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public string PeftType => Type;

    /// <summary>n.</summary>
    public int NumVirtualTokens { get; }

    /// <summary>L · 2 · token_dim.</summary>
    public long FlatWidth { get; }

    /// <summary>h of the projection MLP; null: no projection.</summary>
    public int? ProjectionHiddenSize { get; }

    /// <summary>The flat prefix (n, L·2·token_dim): PEFT's <c>prompt_encoder(prompt_tokens)</c> for a batch of one.</summary>
    public Tensor Prefix()
    {
        if (transform is null) return embedding.weight!.alias();
        using var scope = NewDisposeScope();
        return transform.forward(embedding.weight!).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public long TrainableParameterCount => parameters().Sum(p => p.numel());

    /// <inheritdoc />
    /// <remarks>The encoder's output, as PEFT's <c>get_prompt_embedding_to_save</c> (the projection has no dropout, so train/eval mode agree).</remarks>
    public IEnumerable<(string Name, Tensor Value)> SavedTensors()
    {
        using var guard = no_grad();
        using var prefix = Prefix();
        yield return (PromptEmbedding.SavedName, prefix.detach().cpu().to(ScalarType.Float32).contiguous());
    }

    /// <inheritdoc />
    /// <remarks>A projected prefix is saved projected: only the plain table loads a saved adapter (AdapterLoader builds one).</remarks>
    public IEnumerable<(string Name, Tensor Target)> LoadTargets()
    {
        if (transform is not null)
            throw new NotSupportedException("a saved prefix-tuning adapter holds the projected prefix; load it into an unprojected PrefixEncoder (AdapterLoader does).");
        yield return (PromptEmbedding.SavedName, embedding.weight!);
    }
}
