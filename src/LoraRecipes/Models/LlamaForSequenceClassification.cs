using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // fields carry HF module names: they become the parameter paths PEFT keys on

namespace LoraRecipes.Models;

/// <summary>
/// HF's <c>LlamaForSequenceClassification</c> (also Mistral/Qwen2/Qwen3): the decoder <c>model.*</c> and a bias-free
/// <c>score</c> linear read at each sequence's last real token.
/// </summary>
/// <remarks>
/// HF pools at the last token that is not <c>pad_token_id</c>; here the attention mask says where that is, which is
/// the same for right-padded batches. The decoder has no padding mask, so batches must be right-padded (pads after
/// the text cannot influence earlier positions of a causal model); left padding is refused.
/// </remarks>
public sealed class LlamaForSequenceClassification : Module<Tensor, Tensor>, ISequenceClassifier, ICheckpointLayout, IVirtualTokenHost, IPrefixHost
{
    private readonly LlamaModel model;
    private readonly Linear score;

    public LlamaForSequenceClassification(ModelConfig config) : base(nameof(LlamaForSequenceClassification))
    {
        Config = config;
        Prefix = new PrefixSlot(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim);
        model = new LlamaModel(config) { Slot = VirtualTokens, Prefix = Prefix };
        score = Linear(config.HiddenSize, config.Labels.Count, hasBias: false);
        RegisterComponents();
    }

    /// <inheritdoc />
    public VirtualTokenSlot VirtualTokens { get; } = new();

    /// <inheritdoc />
    /// <remarks>The prefix is in every layer's attention only, so the last real token stays where the mask says.</remarks>
    public PrefixSlot Prefix { get; }

    /// <inheritdoc />
    public Tensor WordEmbeddings(Tensor ids) => model.EmbedTokens.forward(ids);

    /// <inheritdoc />
    public int TokenDim => Config.HiddenSize;

    /// <summary>The config the model was built from.</summary>
    public ModelConfig Config { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Labels => Config.Labels;

    /// <inheritdoc />
    public IReadOnlyList<string> HeadModules { get; } = ["score"];

    /// <inheritdoc />
    public bool FanInFanOut => false;

    /// <summary>Logits (B, num_labels) at the last position (no padding).</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var mask = ones_like(inputIds);
        return Classify(inputIds, mask);
    }

    /// <inheritdoc />
    public Tensor Classify(Tensor inputIds, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var m = attentionMask.to(ScalarType.Int64);
        if (m.shape[1] > 1 && (m[.., 1..] > m[.., ..^1]).any().item<bool>())
            throw new ArgumentException("decoder classification needs right-padded batches (a 0 in the mask before a 1)", nameof(attentionMask));
        // Virtual tokens come first and the mask gets ones for them, so the last real token moves n places right.
        var hidden = model.Forward(inputIds, new AttentionLayout(0, null), keepVirtual: true);   // (B, n + T, H)
        if (VirtualTokens.Active) m = VirtualTokens.ExtendMask(m);
        var last = SequenceClassification.LastTokenIndex(m);                          // (B)
        var pooled = hidden[arange(hidden.shape[0], device: hidden.device), last];    // (B, H)
        return score.forward(pooled).MoveToOuterDisposeScope();                       // (B, L)
    }

    /// <inheritdoc />
    public IEnumerable<string> CheckpointNames(string parameterPath) => [parameterPath];

    /// <inheritdoc />
    public bool IsTransposed(string parameterPath) => false;

    /// <inheritdoc />
    public bool MayBeMissing(string parameterPath) => parameterPath == "score.weight";

    protected override void Dispose(bool disposing)
    {
        if (disposing) model.Rotary.Dispose();
        base.Dispose(disposing);
    }
}
