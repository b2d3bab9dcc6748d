using LoraRecipes.Recipes;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // PEFT's module names: embedding, mlp_head, lstm_head

namespace LoraRecipes.Lora;

/// <summary>
/// PEFT's <c>PromptEncoder</c> (P_TUNING): an <c>embedding</c> (n, H) re-parameterised by a trained encoder; the virtual
/// tokens are the encoder's output.
/// <list type="bullet">
/// <item>MLP: out = W₃ relu(W₂ relu(W₁ e + b₁) + b₂) + b₃, W₁ (h, H), W₂ (h, h), W₃ (H, h).</item>
/// <item>LSTM: out = W₂ relu(W₁ lstm(e) + b₁) + b₂, lstm bidirectional with <c>encoder_num_layers</c> layers of width h
/// (output 2h), dropout between layers; W₁ (2h, 2h), W₂ (H, 2h).</item>
/// </list>
/// PEFT saves <c>prompt_embeddings</c> = the encoder's output at save time (<c>get_prompt_embedding_to_save</c>), and loads
/// it into the plain embedding of an inference-mode model: the encoder itself is not saved (checkpoints keep it).
/// </summary>
public sealed class PromptEncoder : Module, IAdapterModule
{
    /// <summary>PEFT's <c>peft_type</c> for p-tuning.</summary>
    public const string Type = "P_TUNING";

    private readonly Embedding embedding;
    private readonly Sequential mlp_head;
    private readonly PromptLstm? lstm_head;
    private readonly Generator? _generator;

    /// <summary>
    /// Initialised as PyTorch does, from <paramref name="generator"/>: the embedding N(0, 1); each linear's weight
    /// kaiming-uniform(a=√5), i.e. U(±1/√fan_in), and its bias U(±1/√fan_in); every LSTM tensor U(±1/√h).
    /// </summary>
    public PromptEncoder(int numVirtualTokens, long tokenDim, int hiddenSize, PromptEncoderType type, int lstmLayers, double lstmDropout, Device device,
        Generator? generator = null) : base(nameof(PromptEncoder))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numVirtualTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        (NumVirtualTokens, EncoderType, HiddenSize, _generator) = (numVirtualTokens, type, hiddenSize, generator);
        embedding = Embedding(numVirtualTokens, tokenDim, device: device);
        if (type == PromptEncoderType.Lstm)
        {
            lstm_head = new PromptLstm(tokenDim, hiddenSize, lstmLayers, lstmDropout, device, generator);
            mlp_head = Sequential(Linear(2L * hiddenSize, 2L * hiddenSize, device: device), ReLU(), Linear(2L * hiddenSize, tokenDim, device: device));
        }
        else
        {
            mlp_head = Sequential(Linear(tokenDim, hiddenSize, device: device), ReLU(), Linear(hiddenSize, hiddenSize, device: device), ReLU(),
                Linear(hiddenSize, tokenDim, device: device));
        }
        using (no_grad())
        {
            embedding.weight!.normal_(0.0, 1.0, generator);   // Tensor.normal_: nn.init.normal_ did not take the generator
            SeededInit.Linears(mlp_head.children(), generator);
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public string PeftType => Type;

    /// <summary>n.</summary>
    public int NumVirtualTokens { get; }

    /// <summary>mlp or lstm.</summary>
    public PromptEncoderType EncoderType { get; }

    /// <summary>h, PEFT's <c>encoder_hidden_size</c>.</summary>
    public int HiddenSize { get; }

    /// <summary>The virtual-token embeddings (n, H): the encoder applied to the embedding table (PEFT's batch of one).</summary>
    public Tensor Prompts()
    {
        using var scope = NewDisposeScope();
        var e = embedding.weight!;                                        // (n, H)
        var x = lstm_head is null ? e : lstm_head.Forward(e);             // (n, H) or (n, 2h)
        return mlp_head.forward(x).MoveToOuterDisposeScope();              // (n, H)
    }

    /// <inheritdoc />
    public long TrainableParameterCount => parameters().Sum(p => p.numel());

    /// <inheritdoc />
    /// <remarks>The encoder's output, as PEFT's <c>get_prompt_embedding_to_save</c>: the encoder in eval mode has no dropout anyway (MLP) and PEFT computes it as is.</remarks>
    public IEnumerable<(string Name, Tensor Value)> SavedTensors()
    {
        using var guard = no_grad();
        bool wasTraining = training;
        eval();
        try
        {
            using var prompts = Prompts();
            yield return (PromptEmbedding.SavedName, prompts.detach().cpu().to(ScalarType.Float32).contiguous());
        }
        finally
        {
            if (wasTraining) train();
        }
    }

    /// <inheritdoc />
    /// <remarks>A saved P_TUNING adapter holds the encoder's output only: it loads into a <see cref="PromptEmbedding"/>, as PEFT's inference mode.</remarks>
    public IEnumerable<(string Name, Tensor Target)> LoadTargets() =>
        throw new NotSupportedException("a saved p-tuning adapter holds the encoder's output; load it as a PromptEmbedding (AdapterLoader does).");
}
