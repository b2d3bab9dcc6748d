using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // fields carry HF module names: they become the parameter paths PEFT keys on

namespace LoraRecipes.Models;

/// <summary>
/// Llama-style decoders (Llama 2/3, Mistral, Qwen2/2.5, SmolLM, TinyLlama) with HF module names:
/// <c>model.embed_tokens</c>, <c>model.layers.N.self_attn.{q,k,v,o}_proj</c>,
/// <c>model.layers.N.mlp.{gate,up,down}_proj</c>, <c>model.norm</c>, <c>lm_head</c>.
/// </summary>
public sealed class LlamaForCausalLM : Module<Tensor, Tensor>, ICausalLM, IVirtualTokenHost, IPrefixHost
{
    private readonly LlamaModel model;
    private readonly Linear lm_head;

    public LlamaForCausalLM(ModelConfig config) : base(nameof(LlamaForCausalLM))
    {
        Config = config;
        Prefix = new PrefixSlot(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim);
        model = new LlamaModel(config) { Slot = VirtualTokens, Prefix = Prefix };
        lm_head = Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
        if (config.TieWordEmbeddings) lm_head.weight = model.EmbedTokens.weight!;
    }

    /// <inheritdoc />
    public VirtualTokenSlot VirtualTokens { get; } = new();

    /// <inheritdoc />
    public PrefixSlot Prefix { get; }

    /// <inheritdoc />
    public Tensor WordEmbeddings(Tensor ids) => model.EmbedTokens.forward(ids);

    /// <inheritdoc />
    public int TokenDim => Config.HiddenSize;

    /// <inheritdoc />
    public ModelConfig Config { get; }

    /// <inheritdoc />
    public int NumLayers => Config.NumHiddenLayers;

    /// <summary>Logits (B, T, V) for token ids (B, T).</summary>
    public override Tensor forward(Tensor inputIds) => Forward(inputIds, null);

    /// <inheritdoc />
    public Tensor Forward(Tensor inputIds, KvCache? cache)
    {
        using var hidden = model.Forward(inputIds, cache);   // (B, T, H)
        return lm_head.forward(hidden);                        // (B, T, V)
    }

    /// <inheritdoc />
    public Tensor Forward(Tensor inputIds, Tensor positionIds, Tensor attentionMask)
    {
        using var hidden = Hidden(inputIds, positionIds, attentionMask);   // (B, T, H)
        return lm_head.forward(hidden);                                    // (B, T, V)
    }

    /// <inheritdoc />
    public Tensor Hidden(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null) =>
        positionIds is null
            ? model.Forward(inputIds, (KvCache?)null)
            : model.Forward(inputIds, new AttentionLayout(positionIds, attentionMask ?? throw new ArgumentNullException(nameof(attentionMask), "packed rows need their mask")));

    /// <inheritdoc />
    public Tensor Hidden(Tensor inputIds, KvCache cache) => model.Forward(inputIds, cache);

    /// <inheritdoc />
    public Tensor Head(Tensor hidden) => lm_head.forward(hidden);

    protected override void Dispose(bool disposing)
    {
        if (disposing) model.Rotary.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>The decoder stack without the language-model head.</summary>
public sealed class LlamaModel : Module<Tensor, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;

    public LlamaModel(ModelConfig config) : base(nameof(LlamaModel))
    {
        embed_tokens = Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>();
        for (int i = 0; i < config.NumHiddenLayers; i++) layers.append(new LlamaDecoderLayer(config, i));
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        Rotary = new RotaryEmbedding(config.HeadDim, config.MaxPositionEmbeddings, config.RopeTheta, config.RopeScaling);
        RegisterComponents();
    }

    internal Embedding EmbedTokens => embed_tokens;
    internal RotaryEmbedding Rotary { get; }

    /// <summary>The owner's virtual tokens (prompt tuning, p-tuning); empty unless a prompt method filled it.</summary>
    internal VirtualTokenSlot Slot { get; init; } = new();

    /// <summary>The owner's prefix (prefix tuning); empty unless the method filled it.</summary>
    internal PrefixSlot? Prefix { get; init; }

    public override Tensor forward(Tensor inputIds) => Forward(inputIds, (KvCache?)null);

    public Tensor Forward(Tensor inputIds, KvCache? cache) => Forward(inputIds, new AttentionLayout(cache?.Length ?? 0, cache));

    /// <summary>
    /// Hidden states (B, T, H) under the given positions and attention pattern. With virtual tokens, a forward that starts
    /// the sequence (offset 0, empty cache) runs on [virtual ; tokens] (n + T positions, the real tokens at n..n+T−1, as HF
    /// numbers PEFT's inputs_embeds); the result drops the n virtual positions unless <paramref name="keepVirtual"/>.
    /// </summary>
    public Tensor Forward(Tensor inputIds, AttentionLayout layout, bool keepVirtual = false)
    {
        if (Prefix is { Active: true } prefix && layout.Offset == 0 && (layout.Cache?.Length ?? 0) == 0)
        {
            // Prefix tuning: the prefix is a cache of n past positions (HF's past_key_values), so the tokens continue
            // at position n; a forward without a cache (training, evaluation) gets one for this call only.
            if (layout.PositionIds is not null) throw PrefixSlot.PackedRows();
            using var own = layout.Cache is null ? new KvCache(layers.Count) : null;
            var cache = layout.Cache ?? own!;
            prefix.Seed(cache, inputIds.shape[0], embed_tokens.weight!.dtype, inputIds.device);
            return Forward(inputIds, new AttentionLayout(cache.Length, cache), keepVirtual);
        }
        var x = embed_tokens.forward(inputIds);              // (B, T, H)
        bool prepend = Slot.Active && layout.Offset == 0 && (layout.Cache?.Length ?? 0) == 0;
        if (prepend)
        {
            if (layout.PositionIds is not null) throw VirtualTokenSlot.PackedRows();
            var words = x;
            using (words) x = Slot.Prepend(words);           // (B, n + T, H)
        }
        foreach (var layer in layers)
        {
            var next = layer.Forward(x, Rotary, layout);
            x.Dispose();
            x = next;
        }
        using (x)
        {
            var h = norm.forward(x);
            if (!prepend || keepVirtual) return h;
            using (h) return Slot.Strip(h);                  // (B, T, H)
        }
    }
}

/// <summary>
/// Where the tokens of a forward pass sit: either one sequence per row continuing <see cref="Offset"/> cached
/// positions (plain causal attention), or packed rows with explicit <see cref="PositionIds"/> (B, T) that restart
/// at 0 for each sample and a boolean <see cref="AttentionMask"/> (B, 1, T, T), true where a query may attend.
/// </summary>
public sealed record AttentionLayout(long Offset, KvCache? Cache, Tensor? PositionIds = null, Tensor? AttentionMask = null)
{
    public AttentionLayout(Tensor positionIds, Tensor attentionMask) : this(0, null, positionIds, attentionMask) { }
}

/// <summary>Pre-norm block: x + attn(norm(x)), then + mlp(norm(·)).</summary>
public sealed class LlamaDecoderLayer : Module<Tensor, Tensor>
{
    private readonly LlamaAttention self_attn;
    private readonly LlamaMlp mlp;
    private readonly RmsNorm input_layernorm;
    private readonly RmsNorm post_attention_layernorm;

    public LlamaDecoderLayer(ModelConfig config, int index) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(config, index);
        mlp = new LlamaMlp(config);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the rotary table");

    public Tensor Forward(Tensor x, RotaryEmbedding rotary, AttentionLayout layout)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.forward(x), rotary, layout);
        var y = h + mlp.forward(post_attention_layernorm.forward(h));
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>Multi-head attention with grouped key/value heads and optional q/k/v bias (Qwen2).</summary>
public sealed class LlamaAttention : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> q_proj;
    private Module<Tensor, Tensor> k_proj;
    private Module<Tensor, Tensor> v_proj;
    private Module<Tensor, Tensor> o_proj;
    private readonly RmsNorm? q_norm;   // Qwen3 only
    private readonly RmsNorm? k_norm;
    private readonly int _heads, _kvHeads, _headDim, _layer;
    private readonly int? _window;   // sliding-window span of this layer (Mistral, Qwen2/3); null: full causal

    public LlamaAttention(ModelConfig c, int layer) : base(nameof(LlamaAttention))
    {
        (_heads, _kvHeads, _headDim, _layer, _window) = (c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, layer, c.WindowOf(layer));
        q_proj = Linear(c.HiddenSize, _heads * _headDim, hasBias: c.AttentionBias);
        k_proj = Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: c.AttentionBias);
        v_proj = Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: c.AttentionBias);
        o_proj = Linear(_heads * _headDim, c.HiddenSize, hasBias: c.OutputBias);
        if (c.QkNorm) (q_norm, k_norm) = (new RmsNorm(_headDim, c.RmsNormEps), new RmsNorm(_headDim, c.RmsNormEps));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with the rotary table");

    public Tensor Forward(Tensor x, RotaryEmbedding rotary, AttentionLayout layout)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);     // (B, nh, T, hd)
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);   // (B, nkv, T, hd)
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        if (q_norm is not null) (q, k) = (q_norm.forward(q), k_norm!.forward(k));   // Qwen3: per-head RMSNorm over hd, before RoPE
        (q, k) = layout.PositionIds is { } positions
            ? (rotary.Apply(q, positions), rotary.Apply(k, positions))
            : (rotary.Apply(q, layout.Offset), rotary.Apply(k, layout.Offset));
        if (layout.Cache is { } cache) (k, v) = cache.Append(_layer, k, v);
        if (_kvHeads != _heads)
        {
            // GQA: each key/value head serves heads/kvHeads query heads, in order (HF repeat_kv).
            k = k.repeat_interleave(_heads / _kvHeads, dim: 1);
            v = v.repeat_interleave(_heads / _kvHeads, dim: 1);
        }
        // Packed rows bring their own block-diagonal causal mask; otherwise causal over the new block, and a
        // single decoding step attends to every cached position. Both forms run libtorch's fused (flash) kernel.
        bool causal = layout.AttentionMask is null && q.shape[2] > 1;
        var mask = layout.AttentionMask;
        if (causal && k.shape[2] != q.shape[2])
        {
            // A prefill after cached positions (prefix tuning's n prefix keys): the triangle aligns bottom-right.
            mask = KvCache.CausalMask(q.shape[2], k.shape[2], q.device);
            causal = false;
        }
        if (_window is { } window && k.shape[2] > window)
        {
            // Sliding window (transformers' sliding_window_overlay): query i (absolute index kLen − qLen + i) sees key j
            // only when i − window < j ≤ i. Packed rows keep their own block mask as well.
            var band = SlidingWindowMask(q.shape[2], k.shape[2], window, q.device);   // (Tq, Tk)
            mask = mask is null ? band : mask.logical_and(band);
            causal = false;
        }
        var y = nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, causal);  // (B, nh, T, hd)
        y = y.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return o_proj.forward(y).MoveToOuterDisposeScope();
    }

    /// <summary>Boolean (Tq, Tk) mask, true where query i (absolute kLen − qLen + i) may attend key j: i − window &lt; j ≤ i.</summary>
    internal static Tensor SlidingWindowMask(long qLen, long kLen, int window, Device device)
    {
        using var scope = NewDisposeScope();
        var qi = arange(kLen - qLen, kLen, device: device).unsqueeze(1);   // (Tq, 1)
        var kj = arange(kLen, device: device).unsqueeze(0);                // (1, Tk)
        return kj.le(qi).logical_and(kj.gt(qi - window)).MoveToOuterDisposeScope();
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() =>
        new[] { ("q_proj", q_proj), ("k_proj", k_proj), ("v_proj", v_proj), ("o_proj", o_proj) };

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        switch (name)
        {
            case "q_proj": q_proj = replacement; break;
            case "k_proj": k_proj = replacement; break;
            case "v_proj": v_proj = replacement; break;
            case "o_proj": o_proj = replacement; break;
            default: throw new ArgumentException($"no linear child '{name}'", nameof(name));
        }
        _internal_submodules[name] = replacement;
    }
}

/// <summary>Gated feed-forward: down(act(gate(x)) · up(x)), act = hidden_act (silu: SwiGLU); biases with Llama's mlp_bias.</summary>
public sealed class LlamaMlp : Module<Tensor, Tensor>, ILinearHost
{
    private Module<Tensor, Tensor> gate_proj;
    private Module<Tensor, Tensor> up_proj;
    private Module<Tensor, Tensor> down_proj;
    private readonly string _activation;

    public LlamaMlp(ModelConfig c) : base(nameof(LlamaMlp))
    {
        gate_proj = Linear(c.HiddenSize, c.IntermediateSize, hasBias: c.MlpBias);
        up_proj = Linear(c.HiddenSize, c.IntermediateSize, hasBias: c.MlpBias);
        down_proj = Linear(c.IntermediateSize, c.HiddenSize, hasBias: c.MlpBias);
        _activation = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = down_proj.forward(Activations.Apply(_activation, gate_proj.forward(x)) * up_proj.forward(x));
        return y.MoveToOuterDisposeScope();
    }

    public IEnumerable<(string Name, Module<Tensor, Tensor> Module)> LinearChildren() =>
        new[] { ("gate_proj", gate_proj), ("up_proj", up_proj), ("down_proj", down_proj) };

    public void ReplaceLinear(string name, Module<Tensor, Tensor> replacement)
    {
        switch (name)
        {
            case "gate_proj": gate_proj = replacement; break;
            case "up_proj": up_proj = replacement; break;
            case "down_proj": down_proj = replacement; break;
            default: throw new ArgumentException($"no linear child '{name}'", nameof(name));
        }
        _internal_submodules[name] = replacement;
    }
}
