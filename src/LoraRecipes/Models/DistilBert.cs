using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // fields carry HF module names: they become the parameter paths PEFT keys on

namespace LoraRecipes.Models;

/// <summary>
/// DistilBERT (<c>model_type: distilbert</c>) as HF's <c>DistilBertForSequenceClassification</c>:
/// <c>distilbert.embeddings.{word,position}_embeddings + LayerNorm</c>,
/// <c>distilbert.transformer.layer.N.attention.{q_lin,k_lin,v_lin,out_lin}</c>, <c>sa_layer_norm</c>,
/// <c>ffn.{lin1,lin2}</c>, <c>output_layer_norm</c>; head <c>pre_classifier</c> → ReLU → <c>classifier</c> on [CLS].
/// </summary>
/// <remarks>
/// LayerNorm eps is fixed at 1e-12 as in HF. Dropout (attention, hidden, seq_classif_dropout) is not applied.
/// Sinusoidal position tables are stored in the checkpoint like learned ones, so both load the same way.
/// </remarks>
public sealed class DistilBertForSequenceClassification : Module<Tensor, Tensor>, ISequenceClassifier, ICheckpointLayout, IVirtualTokenHost
{
    private readonly DistilBertModel distilbert;
    private readonly Linear pre_classifier;
    private readonly Linear classifier;

    public DistilBertForSequenceClassification(ModelConfig config) : base(nameof(DistilBertForSequenceClassification))
    {
        Config = config;
        distilbert = new DistilBertModel(config) { Slot = VirtualTokens };
        pre_classifier = Linear(config.HiddenSize, config.HiddenSize);
        classifier = Linear(config.HiddenSize, config.Labels.Count);
        RegisterComponents();
    }

    /// <summary>The config the model was built from.</summary>
    public ModelConfig Config { get; }

    /// <inheritdoc />
    /// <remarks>The encoder reads [virtual ; tokens]: the pooled first position is the first virtual token, as in PEFT.</remarks>
    public VirtualTokenSlot VirtualTokens { get; } = new();

    /// <inheritdoc />
    public Tensor WordEmbeddings(Tensor ids) => distilbert.WordEmbeddings(ids);

    /// <inheritdoc />
    public int TokenDim => Config.HiddenSize;

    /// <inheritdoc />
    public IReadOnlyList<string> Labels => Config.Labels;

    /// <inheritdoc />
    /// <remarks>PEFT adds only <c>classifier</c> on its own; list <c>pre_classifier</c> too, or it stays at its random init.</remarks>
    public IReadOnlyList<string> HeadModules { get; } = ["pre_classifier", "classifier"];

    /// <inheritdoc />
    public bool FanInFanOut => false;

    /// <summary>Logits (B, num_labels) with no padding.</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var mask = ones_like(inputIds);
        return Classify(inputIds, mask);
    }

    /// <inheritdoc />
    public Tensor Classify(Tensor inputIds, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var hidden = distilbert.Forward(inputIds, attentionMask);                  // (B, T, H)
        var pooled = nn.functional.relu(pre_classifier.forward(hidden[.., 0]));   // (B, H), [CLS]
        return classifier.forward(pooled).MoveToOuterDisposeScope();              // (B, L)
    }

    /// <inheritdoc />
    public IEnumerable<string> CheckpointNames(string parameterPath) => EncoderCheckpoint.Names(parameterPath, "distilbert.");

    /// <inheritdoc />
    public bool IsTransposed(string parameterPath) => false;

    /// <inheritdoc />
    public bool MayBeMissing(string parameterPath) =>
        parameterPath.StartsWith("pre_classifier.", StringComparison.Ordinal) || parameterPath.StartsWith("classifier.", StringComparison.Ordinal);
}

/// <summary>Embeddings and the transformer stack.</summary>
public sealed class DistilBertModel : Module<Tensor, Tensor>
{
    private readonly DistilBertEmbeddings embeddings;
    private readonly DistilBertTransformer transformer;

    public DistilBertModel(ModelConfig c) : base(nameof(DistilBertModel))
    {
        embeddings = new DistilBertEmbeddings(c);
        transformer = new DistilBertTransformer(c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds)
    {
        using var mask = ones_like(inputIds);
        return Forward(inputIds, mask);
    }

    /// <summary>The owner's virtual tokens (prompt tuning, p-tuning); empty unless a prompt method filled it.</summary>
    internal VirtualTokenSlot Slot { get; init; } = new();

    internal Tensor WordEmbeddings(Tensor ids) => embeddings.Words(ids);

    /// <summary>
    /// Hidden states (B, T, H) for ids (B, T) and padding mask (B, T); with virtual tokens (B, n + T, H), the mask extended
    /// with ones for them (PEFT's prefix_attention_mask).
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor attentionMask)
    {
        using var x = embeddings.Forward(inputIds, Slot);
        using var mask = Slot.Active ? Slot.ExtendMask(attentionMask) : attentionMask.alias();
        using var keyMask = SequenceClassification.KeyMask(mask);   // (B, 1, 1, T)
        return transformer.Forward(x, keyMask);
    }
}

/// <summary>LayerNorm(word + position).</summary>
public sealed class DistilBertEmbeddings : Module<Tensor, Tensor>
{
    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly TorchSharp.Modules.LayerNorm LayerNorm;

    public DistilBertEmbeddings(ModelConfig c) : base(nameof(DistilBertEmbeddings))
    {
        word_embeddings = Embedding(c.VocabSize, c.HiddenSize);
        position_embeddings = Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds) => Forward(inputIds, null);

    /// <summary>The word embeddings alone (…, H).</summary>
    internal Tensor Words(Tensor ids) => word_embeddings.forward(ids);

    /// <summary>(B, T, H); with virtual tokens in <paramref name="slot"/>, LayerNorm([virtual ; words] + positions 0..n+T−1): (B, n + T, H).</summary>
    internal Tensor Forward(Tensor inputIds, VirtualTokenSlot? slot)
    {
        using var scope = NewDisposeScope();
        var words = word_embeddings.forward(inputIds);
        if (slot is { Active: true }) words = slot.Prepend(words);
        var positions = arange(words.shape[1], dtype: ScalarType.Int64, device: inputIds.device);
        var x = words + position_embeddings.forward(positions);
        return LayerNorm.forward(x).MoveToOuterDisposeScope();   // (B, T, H)
    }
}

/// <summary><c>transformer.layer</c>: the blocks.</summary>
public sealed class DistilBertTransformer : Module<Tensor, Tensor>
{
    private readonly ModuleList<DistilBertBlock> layer;

    public DistilBertTransformer(ModelConfig c) : base(nameof(DistilBertTransformer))
    {
        layer = new ModuleList<DistilBertBlock>();
        for (int i = 0; i < c.NumHiddenLayers; i++) layer.append(new DistilBertBlock(c));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the key mask");

    public Tensor Forward(Tensor x, Tensor keyMask) => EncoderStack.Forward(layer, x, keyMask);
}

/// <summary>Post-norm block: a = sa_layer_norm(x + attn(x)); y = output_layer_norm(a + ffn(a)).</summary>
public sealed class DistilBertBlock : Module<Tensor, Tensor>, IEncoderLayer
{
    private readonly DistilBertAttention attention;
    private readonly TorchSharp.Modules.LayerNorm sa_layer_norm;
    private readonly DistilBertFfn ffn;
    private readonly TorchSharp.Modules.LayerNorm output_layer_norm;

    public DistilBertBlock(ModelConfig c) : base(nameof(DistilBertBlock))
    {
        attention = new DistilBertAttention(c);
        sa_layer_norm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        ffn = new DistilBertFfn(c);
        output_layer_norm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the key mask");

    public Tensor Forward(Tensor x, Tensor keyMask, (Tensor Keys, Tensor Values)? prefix = null)
    {
        // HF's DistilBERT takes no past key/values, so PEFT cannot prefix-tune it: the model is no IPrefixHost.
        if (prefix is not null) throw new NotSupportedException("DistilBERT takes no prefix key/values");
        using var scope = NewDisposeScope();
        var a = sa_layer_norm.forward(x + attention.Forward(x, keyMask));
        return output_layer_norm.forward(a + ffn.forward(a)).MoveToOuterDisposeScope();
    }
}

/// <summary>Multi-head self-attention: <c>q_lin</c>, <c>k_lin</c>, <c>v_lin</c>, <c>out_lin</c>.</summary>
public sealed class DistilBertAttention : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> q_lin;
    private Module<Tensor, Tensor> k_lin;
    private Module<Tensor, Tensor> v_lin;
    private Module<Tensor, Tensor> out_lin;
    private readonly int _heads;

    public DistilBertAttention(ModelConfig c) : base(nameof(DistilBertAttention))
    {
        _heads = c.NumAttentionHeads;
        q_lin = Linear(c.HiddenSize, c.HiddenSize);
        k_lin = Linear(c.HiddenSize, c.HiddenSize);
        v_lin = Linear(c.HiddenSize, c.HiddenSize);
        out_lin = Linear(c.HiddenSize, c.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the key mask");

    public Tensor Forward(Tensor x, Tensor keyMask)
    {
        using var scope = NewDisposeScope();
        var context = EncoderAttention.Attend(q_lin.forward(x), k_lin.forward(x), v_lin.forward(x), _heads, keyMask);
        return out_lin.forward(context).MoveToOuterDisposeScope();
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() =>
        [("q_lin", q_lin), ("k_lin", k_lin), ("v_lin", v_lin), ("out_lin", out_lin)];

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        switch (name)
        {
            case "q_lin": q_lin = replacement; break;
            case "k_lin": k_lin = replacement; break;
            case "v_lin": v_lin = replacement; break;
            case "out_lin": out_lin = replacement; break;
            default: throw new ArgumentException($"no linear child '{name}'", nameof(name));
        }
        _internal_submodules[name] = replacement;
    }
}

/// <summary>Feed-forward: lin2(act(lin1(x))).</summary>
public sealed class DistilBertFfn : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> lin1;
    private Module<Tensor, Tensor> lin2;
    private readonly string _activation;

    public DistilBertFfn(ModelConfig c) : base(nameof(DistilBertFfn))
    {
        lin1 = Linear(c.HiddenSize, c.IntermediateSize);
        lin2 = Linear(c.IntermediateSize, c.HiddenSize);
        _activation = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return lin2.forward(Activations.Apply(_activation, lin1.forward(x))).MoveToOuterDisposeScope();
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() => [("lin1", lin1), ("lin2", lin2)];

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        switch (name)
        {
            case "lin1": lin1 = replacement; break;
            case "lin2": lin2 = replacement; break;
            default: throw new ArgumentException($"no linear child '{name}'", nameof(name));
        }
        _internal_submodules[name] = replacement;
    }
}

/// <summary>DistilBERT's config.json keys: dim, n_layers, n_heads, hidden_dim, activation, max_position_embeddings.</summary>
internal sealed class DistilBertConfigFormat : IConfigFormat
{
    public static DistilBertConfigFormat Instance { get; } = new();

    public ModelConfig Read(JsonObject root, ModelConfig.ConfigReader reader)
    {
        int hidden = reader.Int("dim", 1, 65536);
        int heads = reader.Int("n_heads", 1, 1024);
        if (hidden % heads != 0) throw new ModelLoadException(reader.Path, $"dim {hidden} is not divisible by n_heads {heads}.");
        return new ModelConfig
        {
            ModelType = "distilbert",
            VocabSize = reader.Int("vocab_size", 1, 1 << 22),
            HiddenSize = hidden,
            IntermediateSize = reader.Int("hidden_dim", 1, 1 << 20),
            NumHiddenLayers = reader.Int("n_layers", 1, 1024),
            NumAttentionHeads = heads,
            NumKeyValueHeads = heads,
            HeadDim = hidden / heads,
            MaxPositionEmbeddings = reader.OptionalInt("max_position_embeddings", 1, 1 << 20) ?? 512,
            LayerNormEps = 1e-12,   // hard-coded in HF's DistilBERT
            HiddenAct = FamilyConfig.Activation(reader, "activation", "gelu"),
            TorchDtype = reader.OptionalString("torch_dtype"),
            PadTokenId = reader.OptionalTokenId("pad_token_id") ?? 0,
            Labels = ClassificationLabels.Read(root, reader.Path),
        };
    }

    public JsonObject Write(ModelConfig c)
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("DistilBertForSequenceClassification"),
            ["model_type"] = "distilbert",
            ["vocab_size"] = c.VocabSize,
            ["dim"] = c.HiddenSize,
            ["hidden_dim"] = c.IntermediateSize,
            ["n_layers"] = c.NumHiddenLayers,
            ["n_heads"] = c.NumAttentionHeads,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["activation"] = c.HiddenAct,
            ["sinusoidal_pos_embds"] = false,
            ["dropout"] = 0.1,
            ["attention_dropout"] = 0.1,
            ["seq_classif_dropout"] = 0.2,
            ["initializer_range"] = HfCheckpoint.InitializerRange,
            ["pad_token_id"] = c.PadTokenId ?? 0,
            ["torch_dtype"] = c.TorchDtype ?? "float32",
        };
        ClassificationLabels.Write(o, c.Labels);
        return o;
    }

    public long ParameterCount(ModelConfig c)
    {
        long h = c.HiddenSize, labels = c.Labels.Count;
        long embeddings = ((long)c.VocabSize + c.MaxPositionEmbeddings) * h + 2 * h;
        long transformer = EncoderStack.ParameterCount(c.NumHiddenLayers, h, c.IntermediateSize);
        return embeddings + transformer + (h * h + h) + (h * labels + labels);   // + pre_classifier + classifier
    }
}
