using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // fields carry HF module names: they become the parameter paths PEFT keys on

namespace LoraRecipes.Models;

/// <summary>
/// GPT-2 (<c>model_type: gpt2</c>) with HF's module names: <c>transformer.{wte, wpe, h.N.{ln_1, attn.c_attn,
/// attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj}, ln_f}</c> and <c>lm_head</c> tied to <c>wte</c>.
/// </summary>
/// <remarks>
/// HF's <c>Conv1D</c> stores its weight <c>[in, out]</c>; here every Conv1D is an <c>nn.Linear</c> holding the
/// transpose <c>[out, in]</c>, so <see cref="Lora.LoraLinear"/> wraps it unchanged. The transposition happens
/// once, when loading (<see cref="ICheckpointLayout.IsTransposed"/>), and back in <see cref="HfCheckpoint.StateDict"/>.
/// </remarks>
public sealed class Gpt2LMHeadModel : Module<Tensor, Tensor>, ICausalLM, ICheckpointLayout, IVirtualTokenHost, IPrefixHost
{
    private static readonly string[] Conv1DNames = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"];

    private readonly Gpt2Model transformer;
    private readonly Linear lm_head;

    public Gpt2LMHeadModel(ModelConfig config) : base(nameof(Gpt2LMHeadModel))
    {
        Config = config;
        Prefix = new PrefixSlot(config.NumHiddenLayers, config.NumAttentionHeads, config.HeadDim);
        transformer = new Gpt2Model(config) { Slot = VirtualTokens, Prefix = Prefix };
        lm_head = Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
        if (config.TieWordEmbeddings) lm_head.weight = transformer.Wte.weight!;
    }

    /// <inheritdoc />
    public VirtualTokenSlot VirtualTokens { get; } = new();

    /// <inheritdoc />
    public PrefixSlot Prefix { get; }

    /// <inheritdoc />
    public Tensor WordEmbeddings(Tensor ids) => transformer.Wte.forward(ids);

    /// <inheritdoc />
    public int TokenDim => Config.HiddenSize;

    /// <inheritdoc />
    public ModelConfig Config { get; }

    /// <inheritdoc />
    public int NumLayers => Config.NumHiddenLayers;

    /// <inheritdoc />
    public bool FanInFanOut => true;

    /// <summary>Logits (B, T, V) for token ids (B, T).</summary>
    public override Tensor forward(Tensor inputIds) => Forward(inputIds, null);

    /// <inheritdoc />
    public Tensor Forward(Tensor inputIds, KvCache? cache)
    {
        using var hidden = transformer.Forward(inputIds, cache);   // (B, T, H)
        return lm_head.forward(hidden);                            // (B, T, V)
    }

    /// <inheritdoc />
    /// <remarks>GPT-2's learned positions would need per-sample restarts too; not implemented yet.</remarks>
    public Tensor Forward(Tensor inputIds, Tensor positionIds, Tensor attentionMask) =>
        throw new NotSupportedException("data.packing: true is not supported for GPT-2 models yet; set packing: false.");

    /// <inheritdoc />
    public Tensor Hidden(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null) =>
        positionIds is null ? transformer.Forward(inputIds, null) : Forward(inputIds, positionIds, attentionMask!);

    /// <inheritdoc />
    public Tensor Hidden(Tensor inputIds, KvCache cache) => transformer.Forward(inputIds, cache);

    /// <inheritdoc />
    public Tensor Head(Tensor hidden) => lm_head.forward(hidden);

    /// <inheritdoc />
    public IEnumerable<string> CheckpointNames(string parameterPath)
    {
        yield return parameterPath;
        // openai-community/gpt2 stores the bare GPT2Model: "h.0.attn.c_attn.weight", "wte.weight".
        if (parameterPath.StartsWith("transformer.", StringComparison.Ordinal)) yield return parameterPath["transformer.".Length..];
    }

    /// <inheritdoc />
    public bool IsTransposed(string parameterPath) =>
        parameterPath.EndsWith(".weight", StringComparison.Ordinal)
        && Conv1DNames.Any(n => parameterPath.EndsWith("." + n + ".weight", StringComparison.Ordinal));

    /// <inheritdoc />
    public bool MayBeMissing(string parameterPath) => false;
}

/// <summary>Embeddings (token + learned position), the blocks and the final LayerNorm.</summary>
public sealed class Gpt2Model : Module<Tensor, Tensor>
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly ModuleList<Gpt2Block> h;
    private readonly LayerNorm ln_f;

    public Gpt2Model(ModelConfig c) : base(nameof(Gpt2Model))
    {
        wte = Embedding(c.VocabSize, c.HiddenSize);
        wpe = Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        h = new ModuleList<Gpt2Block>();
        for (int i = 0; i < c.NumHiddenLayers; i++) h.append(new Gpt2Block(c, i));
        ln_f = LayerNorm(c.HiddenSize, c.LayerNormEps);
        MaxPositions = c.MaxPositionEmbeddings;
        RegisterComponents();
    }

    internal Embedding Wte => wte;
    private long MaxPositions { get; }

    /// <summary>The owner's virtual tokens (prompt tuning, p-tuning); empty unless a prompt method filled it.</summary>
    internal VirtualTokenSlot Slot { get; init; } = new();

    /// <summary>The owner's prefix (prefix tuning); empty unless the method filled it.</summary>
    internal PrefixSlot? Prefix { get; init; }

    public override Tensor forward(Tensor inputIds) => Forward(inputIds, null);

    /// <summary>
    /// Hidden states (B, T, H). With virtual tokens, a forward that starts the sequence (empty cache) runs on
    /// [virtual ; tokens] with learned positions 0..n+T−1 added to both, as HF's GPT2Model does to PEFT's inputs_embeds,
    /// and drops the n virtual positions from the result.
    /// </summary>
    public Tensor Forward(Tensor inputIds, KvCache? cache)
    {
        if (Prefix is { Active: true } prefix && (cache?.Length ?? 0) == 0)
        {
            // Prefix tuning: n past positions (HF's past_key_values), so the learned positions continue at n; a forward
            // without a cache (training, evaluation) gets one for this call only.
            using var own = cache is null ? new KvCache(h.Count) : null;
            var seeded = cache ?? own!;
            prefix.Seed(seeded, inputIds.shape[0], wte.weight!.dtype, inputIds.device);
            return Forward(inputIds, seeded);
        }
        long offset = cache?.Length ?? 0;
        bool prepend = Slot.Active && offset == 0;
        long t = inputIds.shape[1] + (prepend ? Slot.Count : 0);
        if (offset + t > MaxPositions)
            throw new ArgumentException($"{offset + t} positions exceed GPT-2's n_positions {MaxPositions}", nameof(inputIds));
        var positions = arange(offset, offset + t, dtype: ScalarType.Int64, device: inputIds.device);
        Tensor x;
        using (var words = wte.forward(inputIds))           // (B, T, H)
        using (var tokens = prepend ? Slot.Prepend(words) : words.alias())   // (B, n + T, H) with virtual tokens
        using (var learned = wpe.forward(positions))        // (T, H)
            x = tokens + learned;
        foreach (var block in h)
        {
            var next = block.Forward(x, cache);
            x.Dispose();
            x = next;
        }
        using (x)
        {
            var y = ln_f.forward(x);
            if (!prepend) return y;
            using (y) return Slot.Strip(y);                 // (B, T, H)
        }
    }
}

/// <summary>Pre-norm block: x + attn(ln_1(x)), then + mlp(ln_2(·)).</summary>
public sealed class Gpt2Block : Module<Tensor, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly Gpt2Attention attn;
    private readonly LayerNorm ln_2;
    private readonly Gpt2Mlp mlp;

    public Gpt2Block(ModelConfig c, int layer) : base(nameof(Gpt2Block))
    {
        ln_1 = LayerNorm(c.HiddenSize, c.LayerNormEps);
        attn = new Gpt2Attention(c, layer);
        ln_2 = LayerNorm(c.HiddenSize, c.LayerNormEps);
        mlp = new Gpt2Mlp(c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, null);

    public Tensor Forward(Tensor x, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var hidden = x + attn.Forward(ln_1.forward(x), cache);
        return (hidden + mlp.forward(ln_2.forward(hidden))).MoveToOuterDisposeScope();
    }
}

/// <summary>Causal self-attention with fused q/k/v (<c>c_attn</c>: H → 3H) and output <c>c_proj</c>.</summary>
public sealed class Gpt2Attention : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> c_attn;
    private Module<Tensor, Tensor> c_proj;
    private readonly int _heads, _headDim, _layer;

    public Gpt2Attention(ModelConfig c, int layer) : base(nameof(Gpt2Attention))
    {
        (_heads, _headDim, _layer) = (c.NumAttentionHeads, c.HeadDim, layer);
        c_attn = Linear(c.HiddenSize, 3 * c.HiddenSize);
        c_proj = Linear(c.HiddenSize, c.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, null);

    public Tensor Forward(Tensor x, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], hidden = _heads * _headDim;
        var qkv = c_attn.forward(x).split(hidden, dim: 2);                               // 3 × (B, T, H), in q, k, v order
        var q = qkv[0].view(b, t, _heads, _headDim).transpose(1, 2);                      // (B, nh, T, hd)
        var k = qkv[1].view(b, t, _heads, _headDim).transpose(1, 2);
        var v = qkv[2].view(b, t, _heads, _headDim).transpose(1, 2);
        if (cache is not null) (k, v) = cache.Append(_layer, k, v);
        bool causal = t > 1;
        Tensor? mask = null;
        if (causal && k.shape[2] != t)
        {
            // A prefill after cached positions (prefix tuning's n prefix keys): the triangle aligns bottom-right.
            mask = KvCache.CausalMask(t, k.shape[2], q.device);
            causal = false;
        }
        var y = nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, causal);   // (B, nh, T, hd), scaled by 1/√hd
        y = y.transpose(1, 2).reshape(b, t, hidden);
        return c_proj.forward(y).MoveToOuterDisposeScope();
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() => [("c_attn", c_attn), ("c_proj", c_proj)];

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        switch (name)
        {
            case "c_attn": c_attn = replacement; break;
            case "c_proj": c_proj = replacement; break;
            default: throw new ArgumentException($"no linear child '{name}'", nameof(name));
        }
        _internal_submodules[name] = replacement;
    }
}

/// <summary>Feed-forward: c_proj(act(c_fc(x))), act = gelu_new unless config.json says otherwise.</summary>
public sealed class Gpt2Mlp : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> c_fc;
    private Module<Tensor, Tensor> c_proj;
    private readonly string _activation;

    public Gpt2Mlp(ModelConfig c) : base(nameof(Gpt2Mlp))
    {
        c_fc = Linear(c.HiddenSize, c.IntermediateSize);
        c_proj = Linear(c.IntermediateSize, c.HiddenSize);
        _activation = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return c_proj.forward(Activations.Apply(_activation, c_fc.forward(x))).MoveToOuterDisposeScope();
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() => [("c_fc", c_fc), ("c_proj", c_proj)];

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        switch (name)
        {
            case "c_fc": c_fc = replacement; break;
            case "c_proj": c_proj = replacement; break;
            default: throw new ArgumentException($"no linear child '{name}'", nameof(name));
        }
        _internal_submodules[name] = replacement;
    }
}

/// <summary>GPT-2's config.json keys: n_embd, n_layer, n_head, n_positions, n_inner, layer_norm_epsilon, activation_function.</summary>
internal sealed class Gpt2ConfigFormat : IConfigFormat
{
    public static Gpt2ConfigFormat Instance { get; } = new();

    public ModelConfig Read(JsonObject root, ModelConfig.ConfigReader reader)
    {
        int hidden = reader.Int("n_embd", 1, 65536);
        int heads = reader.Int("n_head", 1, 1024);
        if (hidden % heads != 0) throw new ModelLoadException(reader.Path, $"n_embd {hidden} is not divisible by n_head {heads}.");
        if (reader.OptionalBool("scale_attn_by_inverse_layer_idx") == true)
            throw new ModelLoadException(reader.Path, "scale_attn_by_inverse_layer_idx is true; only GPT-2's standard 1/√head_dim scaling is supported.");
        if (reader.OptionalBool("scale_attn_weights") == false)
            throw new ModelLoadException(reader.Path, "scale_attn_weights is false; only GPT-2's standard 1/√head_dim scaling is supported.");
        if (reader.OptionalBool("add_cross_attention") == true)
            throw new ModelLoadException(reader.Path, "add_cross_attention is true; encoder-decoder GPT-2 is not supported (decoder-only).");
        return new ModelConfig
        {
            ModelType = "gpt2",
            VocabSize = reader.Int("vocab_size", 1, 1 << 22),
            HiddenSize = hidden,
            IntermediateSize = reader.OptionalInt("n_inner", 1, 1 << 20) ?? 4 * hidden,   // null in most configs: 4·n_embd
            NumHiddenLayers = reader.Int("n_layer", 1, 1024),
            NumAttentionHeads = heads,
            NumKeyValueHeads = heads,
            HeadDim = hidden / heads,
            MaxPositionEmbeddings = reader.OptionalInt("n_positions", 1, 1 << 20) ?? 1024,
            TieWordEmbeddings = reader.OptionalBool("tie_word_embeddings") ?? true,
            LayerNormEps = reader.OptionalDouble("layer_norm_epsilon") ?? 1e-5,
            HiddenAct = FamilyConfig.Activation(reader, "activation_function", "gelu_new"),
            TorchDtype = reader.OptionalString("torch_dtype"),
            BosTokenId = reader.OptionalTokenId("bos_token_id"),
            EosTokenId = reader.OptionalTokenId("eos_token_id"),
            PadTokenId = reader.OptionalTokenId("pad_token_id"),
            Labels = ClassificationLabels.Read(root, reader.Path),
        };
    }

    public JsonObject Write(ModelConfig c)
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["model_type"] = "gpt2",
            ["vocab_size"] = c.VocabSize,
            ["n_positions"] = c.MaxPositionEmbeddings,
            ["n_embd"] = c.HiddenSize,
            ["n_layer"] = c.NumHiddenLayers,
            ["n_head"] = c.NumAttentionHeads,
            ["n_inner"] = c.IntermediateSize,
            ["activation_function"] = c.HiddenAct,
            ["layer_norm_epsilon"] = c.LayerNormEps,
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
            ["torch_dtype"] = c.TorchDtype ?? "float32",
            ["bos_token_id"] = c.BosTokenId,
            ["eos_token_id"] = c.EosTokenId,
        };
        ClassificationLabels.Write(o, c.Labels);
        return o;
    }

    public long ParameterCount(ModelConfig c)
    {
        long h = c.HiddenSize, i = c.IntermediateSize;
        long perLayer = 4 * h + (3 * h * h + 3 * h) + (h * h + h) + (h * i + i) + (i * h + h);
        long embed = (long)c.VocabSize * h;
        return embed + c.MaxPositionEmbeddings * h + c.NumHiddenLayers * perLayer + 2 * h + (c.TieWordEmbeddings ? 0 : embed);
    }
}

/// <summary>Small checks shared by the family config readers.</summary>
internal static class FamilyConfig
{
    /// <summary>An activation name that <see cref="Activations"/> implements, or the family default.</summary>
    public static string Activation(ModelConfig.ConfigReader reader, string key, string fallback)
    {
        string name = reader.OptionalString(key) ?? fallback;
        return Activations.Supported.Contains(name) ? name
            : throw new ModelLoadException(reader.Path, $"\"{key}\" is '{name}'; supported: {string.Join(", ", Activations.Supported)}.");
    }
}
