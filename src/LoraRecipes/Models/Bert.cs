using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // fields carry HF module names: they become the parameter paths PEFT keys on

namespace LoraRecipes.Models;

/// <summary>
/// BERT (<c>model_type: bert</c>) with a sequence-classification head, as HF's <c>BertForSequenceClassification</c>:
/// <c>bert.embeddings.{word,position,token_type}_embeddings + LayerNorm</c>,
/// <c>bert.encoder.layer.N.attention.self.{query,key,value}</c>, <c>attention.output.{dense,LayerNorm}</c>,
/// <c>intermediate.dense</c>, <c>output.{dense,LayerNorm}</c>, <c>bert.pooler.dense</c>, <c>classifier</c>.
/// </summary>
/// <remarks>
/// Post-norm encoder, bidirectional: padded keys are masked, every position attends to every real token.
/// Token types are all 0 (single-segment input). Base-model dropout is not applied (LoRA dropout is).
/// </remarks>
public sealed class BertForSequenceClassification : Module<Tensor, Tensor>, ISequenceClassifier, ICheckpointLayout, IVirtualTokenHost, IPrefixHost
{
    private readonly BertModel bert;
    private readonly Linear classifier;

    public BertForSequenceClassification(ModelConfig config) : base(nameof(BertForSequenceClassification))
    {
        Config = config;
        Prefix = new PrefixSlot(config.NumHiddenLayers, config.NumAttentionHeads, config.HeadDim);
        bert = new BertModel(config) { Slot = VirtualTokens, Prefix = Prefix };
        classifier = Linear(config.HiddenSize, config.Labels.Count);
        RegisterComponents();
    }

    /// <summary>The config the model was built from.</summary>
    public ModelConfig Config { get; }

    /// <inheritdoc />
    /// <remarks>The encoder reads [virtual ; tokens]: the pooled first position is the first virtual token, as in PEFT.</remarks>
    public VirtualTokenSlot VirtualTokens { get; } = new();

    /// <inheritdoc />
    /// <remarks>The prefix joins every layer's keys and values only: the pooler still reads the [CLS] token.</remarks>
    public PrefixSlot Prefix { get; }

    /// <inheritdoc />
    public Tensor WordEmbeddings(Tensor ids) => bert.WordEmbeddings(ids);

    /// <inheritdoc />
    public int TokenDim => Config.HiddenSize;

    /// <inheritdoc />
    public IReadOnlyList<string> Labels => Config.Labels;

    /// <inheritdoc />
    public IReadOnlyList<string> HeadModules { get; } = ["classifier"];

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
        var pooled = bert.Pool(bert.Forward(inputIds, attentionMask));   // (B, H): tanh(dense(h[:, 0]))
        return classifier.forward(pooled).MoveToOuterDisposeScope();     // (B, L)
    }

    /// <inheritdoc />
    public IEnumerable<string> CheckpointNames(string parameterPath) => EncoderCheckpoint.Names(parameterPath, "bert.");

    /// <inheritdoc />
    public bool IsTransposed(string parameterPath) => false;

    /// <inheritdoc />
    public bool MayBeMissing(string parameterPath) =>
        parameterPath.StartsWith("classifier.", StringComparison.Ordinal) || parameterPath.StartsWith("bert.pooler.", StringComparison.Ordinal);
}

/// <summary>Embeddings, the encoder stack and the pooler.</summary>
public sealed class BertModel : Module<Tensor, Tensor>
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler pooler;

    public BertModel(ModelConfig c) : base(nameof(BertModel))
    {
        embeddings = new BertEmbeddings(c);
        encoder = new BertEncoder(c);
        pooler = new BertPooler(c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds)
    {
        using var mask = ones_like(inputIds);
        return Forward(inputIds, mask);
    }

    /// <summary>The owner's virtual tokens (prompt tuning, p-tuning); empty unless a prompt method filled it.</summary>
    internal VirtualTokenSlot Slot { get; init; } = new();

    /// <summary>The owner's prefix (prefix tuning); empty unless the method filled it.</summary>
    internal PrefixSlot? Prefix { get; init; }

    internal Tensor WordEmbeddings(Tensor ids) => embeddings.Words(ids);

    /// <summary>
    /// Hidden states (B, T, H) for ids (B, T) and padding mask (B, T); with virtual tokens (B, n + T, H), the mask extended
    /// with ones for them (PEFT's prefix_attention_mask). With a prefix, every layer attends to its n prefix keys as well and
    /// the tokens take positions n..n+T−1 (HF's BertEmbeddings offsets positions by past_key_values_length).
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor attentionMask)
    {
        if (Prefix is { Active: true } prefix)
        {
            using var scope = NewDisposeScope();
            var embedded = embeddings.Forward(inputIds, null, positionOffset: prefix.Count);
            var pairs = prefix.KeyValues(inputIds.shape[0], embedded.dtype, embedded.device);
            var prefixMask = SequenceClassification.KeyMask(prefix.ExtendMask(attentionMask));   // (B, 1, 1, n + T)
            return encoder.Forward(embedded, prefixMask, pairs).MoveToOuterDisposeScope();
        }
        using var x = embeddings.Forward(inputIds, Slot);
        using var mask = Slot.Active ? Slot.ExtendMask(attentionMask) : attentionMask.alias();
        using var keyMask = SequenceClassification.KeyMask(mask);   // (B, 1, 1, T)
        return encoder.Forward(x, keyMask);
    }

    /// <summary>The pooler on the first ([CLS]) position: (B, H).</summary>
    public Tensor Pool(Tensor hidden) => pooler.forward(hidden);
}

/// <summary>word + position + token-type(0) embeddings, then LayerNorm.</summary>
public sealed class BertEmbeddings : Module<Tensor, Tensor>
{
    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly Embedding token_type_embeddings;
    private readonly TorchSharp.Modules.LayerNorm LayerNorm;

    public BertEmbeddings(ModelConfig c) : base(nameof(BertEmbeddings))
    {
        word_embeddings = Embedding(c.VocabSize, c.HiddenSize);
        position_embeddings = Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        token_type_embeddings = Embedding(Math.Max(1, c.TypeVocabSize), c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds) => Forward(inputIds, null);

    /// <summary>The word embeddings alone (…, H).</summary>
    internal Tensor Words(Tensor ids) => word_embeddings.forward(ids);

    /// <summary>
    /// (B, T, H); with virtual tokens in <paramref name="slot"/>, (B, n + T, H): [virtual ; words] get positions 0..n+T−1
    /// and token type 0, then LayerNorm — what HF's BertEmbeddings does to PEFT's inputs_embeds.
    /// </summary>
    internal Tensor Forward(Tensor inputIds, VirtualTokenSlot? slot, long positionOffset = 0)
    {
        using var scope = NewDisposeScope();
        var words = word_embeddings.forward(inputIds);
        if (slot is { Active: true }) words = slot.Prepend(words);
        long t = words.shape[1];
        if (positionOffset + t > position_embeddings.weight!.shape[0])
            throw new ArgumentException($"{positionOffset} prefix + {t} tokens exceed BERT's max_position_embeddings {position_embeddings.weight!.shape[0]}", nameof(inputIds));
        var positions = arange(positionOffset, positionOffset + t, dtype: ScalarType.Int64, device: inputIds.device);
        var types = zeros(t, dtype: ScalarType.Int64, device: inputIds.device);
        var x = words + position_embeddings.forward(positions) + token_type_embeddings.forward(types);
        return LayerNorm.forward(x).MoveToOuterDisposeScope();   // (B, T, H)
    }
}

/// <summary>The stack of encoder layers.</summary>
public sealed class BertEncoder : Module<Tensor, Tensor>
{
    private readonly ModuleList<BertLayer> layer;

    public BertEncoder(ModelConfig c) : base(nameof(BertEncoder))
    {
        layer = new ModuleList<BertLayer>();
        for (int i = 0; i < c.NumHiddenLayers; i++) layer.append(new BertLayer(c));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the key mask");

    public Tensor Forward(Tensor x, Tensor keyMask, IReadOnlyList<(Tensor Keys, Tensor Values)>? prefix = null) => EncoderStack.Forward(layer, x, keyMask, prefix);
}

/// <summary>Post-norm layer: a = LN(x + attn(x)); y = LN(a + out(act(intermediate(a)))).</summary>
public sealed class BertLayer : Module<Tensor, Tensor>, IEncoderLayer
{
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertResidualOutput output;

    public BertLayer(ModelConfig c) : base(nameof(BertLayer))
    {
        attention = new BertAttention(c);
        intermediate = new BertIntermediate(c);
        output = new BertResidualOutput(c.IntermediateSize, c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the key mask");

    public Tensor Forward(Tensor x, Tensor keyMask, (Tensor Keys, Tensor Values)? prefix = null)
    {
        using var scope = NewDisposeScope();
        var a = attention.Forward(x, keyMask, prefix);
        return output.forward(intermediate.forward(a), a).MoveToOuterDisposeScope();
    }
}

/// <summary><c>attention.self</c> (q/k/v) and <c>attention.output</c> (dense + residual LayerNorm).</summary>
public sealed class BertAttention : Module<Tensor, Tensor>
{
    private readonly BertSelfAttention self;
    private readonly BertResidualOutput output;

    public BertAttention(ModelConfig c) : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(c);
        output = new BertResidualOutput(c.HiddenSize, c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the key mask");

    public Tensor Forward(Tensor x, Tensor keyMask, (Tensor Keys, Tensor Values)? prefix = null)
    {
        using var context = self.Forward(x, keyMask, prefix);
        return output.forward(context, x);
    }
}

/// <summary>Bidirectional multi-head attention: <c>query</c>, <c>key</c>, <c>value</c> (PEFT's BERT targets).</summary>
public sealed class BertSelfAttention : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> query;
    private Module<Tensor, Tensor> key;
    private Module<Tensor, Tensor> value;
    private readonly int _heads;

    public BertSelfAttention(ModelConfig c) : base(nameof(BertSelfAttention))
    {
        _heads = c.NumAttentionHeads;
        query = Linear(c.HiddenSize, c.HiddenSize);
        key = Linear(c.HiddenSize, c.HiddenSize);
        value = Linear(c.HiddenSize, c.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the key mask");

    /// <summary>Context (B, T, H) before the output projection.</summary>
    public Tensor Forward(Tensor x, Tensor keyMask, (Tensor Keys, Tensor Values)? prefix = null) =>
        EncoderAttention.Attend(query.forward(x), key.forward(x), value.forward(x), _heads, keyMask, prefix);

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() => [("query", query), ("key", key), ("value", value)];

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        switch (name)
        {
            case "query": query = replacement; break;
            case "key": key = replacement; break;
            case "value": value = replacement; break;
            default: throw new ArgumentException($"no linear child '{name}'", nameof(name));
        }
        _internal_submodules[name] = replacement;
    }
}

/// <summary><c>intermediate.dense</c> then the activation (gelu).</summary>
public sealed class BertIntermediate : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> dense;
    private readonly string _activation;

    public BertIntermediate(ModelConfig c) : base(nameof(BertIntermediate))
    {
        dense = Linear(c.HiddenSize, c.IntermediateSize);
        _activation = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var h = dense.forward(x);
        return Activations.Apply(_activation, h);
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() => [("dense", dense)];

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        if (name != "dense") throw new ArgumentException($"no linear child '{name}'", nameof(name));
        dense = replacement;
        _internal_submodules[name] = replacement;
    }
}

/// <summary>HF's BertSelfOutput / BertOutput: LayerNorm(dense(hidden) + residual).</summary>
public sealed class BertResidualOutput : Module<Tensor, Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> dense;
    private readonly TorchSharp.Modules.LayerNorm LayerNorm;

    public BertResidualOutput(int inFeatures, int hidden, double eps) : base(nameof(BertResidualOutput))
    {
        dense = Linear(inFeatures, hidden);
        LayerNorm = nn.LayerNorm(hidden, eps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor residual)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(dense.forward(hidden) + residual).MoveToOuterDisposeScope();
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() => [("dense", dense)];

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        if (name != "dense") throw new ArgumentException($"no linear child '{name}'", nameof(name));
        dense = replacement;
        _internal_submodules[name] = replacement;
    }
}

/// <summary><c>pooler.dense</c> + tanh on the first token.</summary>
public sealed class BertPooler : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> dense;

    public BertPooler(ModelConfig c) : base(nameof(BertPooler))
    {
        dense = Linear(c.HiddenSize, c.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return dense.forward(hidden[.., 0]).tanh().MoveToOuterDisposeScope();   // (B, H)
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() => [("dense", dense)];

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        if (name != "dense") throw new ArgumentException($"no linear child '{name}'", nameof(name));
        dense = replacement;
        _internal_submodules[name] = replacement;
    }
}

/// <summary>BERT's config.json keys (hidden_size, num_hidden_layers, …, type_vocab_size, layer_norm_eps, hidden_act).</summary>
internal sealed class BertConfigFormat : IConfigFormat
{
    public static BertConfigFormat Instance { get; } = new();

    public ModelConfig Read(JsonObject root, ModelConfig.ConfigReader reader)
    {
        int hidden = reader.Int("hidden_size", 1, 65536);
        int heads = reader.Int("num_attention_heads", 1, 1024);
        if (hidden % heads != 0) throw new ModelLoadException(reader.Path, $"hidden_size {hidden} is not divisible by num_attention_heads {heads}.");
        string positions = reader.OptionalString("position_embedding_type") ?? "absolute";
        if (positions != "absolute") throw new ModelLoadException(reader.Path, $"position_embedding_type '{positions}' is not supported; only absolute.");
        return new ModelConfig
        {
            ModelType = "bert",
            VocabSize = reader.Int("vocab_size", 1, 1 << 22),
            HiddenSize = hidden,
            IntermediateSize = reader.Int("intermediate_size", 1, 1 << 20),
            NumHiddenLayers = reader.Int("num_hidden_layers", 1, 1024),
            NumAttentionHeads = heads,
            NumKeyValueHeads = heads,
            HeadDim = hidden / heads,
            MaxPositionEmbeddings = reader.OptionalInt("max_position_embeddings", 1, 1 << 20) ?? 512,
            TypeVocabSize = reader.OptionalInt("type_vocab_size", 1, 1 << 16) ?? 2,
            LayerNormEps = reader.OptionalDouble("layer_norm_eps") ?? 1e-12,
            HiddenAct = FamilyConfig.Activation(reader, "hidden_act", "gelu"),
            TorchDtype = reader.OptionalString("torch_dtype"),
            PadTokenId = reader.OptionalTokenId("pad_token_id") ?? 0,
            Labels = ClassificationLabels.Read(root, reader.Path),
        };
    }

    public JsonObject Write(ModelConfig c)
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("BertForSequenceClassification"),
            ["model_type"] = "bert",
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize,
            ["intermediate_size"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["type_vocab_size"] = c.TypeVocabSize,
            ["layer_norm_eps"] = c.LayerNormEps,
            ["hidden_act"] = c.HiddenAct,
            ["position_embedding_type"] = "absolute",
            ["pad_token_id"] = c.PadTokenId ?? 0,
            ["torch_dtype"] = c.TorchDtype ?? "float32",
        };
        ClassificationLabels.Write(o, c.Labels);
        return o;
    }

    public long ParameterCount(ModelConfig c)
    {
        long h = c.HiddenSize, labels = c.Labels.Count;
        long embeddings = ((long)c.VocabSize + c.MaxPositionEmbeddings + Math.Max(1, c.TypeVocabSize)) * h + 2 * h;
        long encoder = EncoderStack.ParameterCount(c.NumHiddenLayers, h, c.IntermediateSize);
        return embeddings + encoder + (h * h + h) + (h * labels + labels);   // + pooler.dense + classifier
    }
}
