using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

public class LlamaTests
{
    /// <summary>
    /// An independent Llama forward written from the HF description with explicit loops over heads and
    /// positions: RMSNorm, rotate-half RoPE computed per position with Math.Cos/Sin, GQA by head index,
    /// an explicit causal softmax, SwiGLU.
    /// </summary>
    private static Tensor Reference(LlamaForCausalLM model, ModelConfig c, Tensor ids)
    {
        var w = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach());
        Tensor W(string n) => w[n];
        Tensor Rms(Tensor x, Tensor g) => x / (x.pow(2).mean(new long[] { -1 }, keepdim: true) + c.RmsNormEps).sqrt() * g;
        Tensor Lin(Tensor x, string n) => w.ContainsKey(n + ".bias") ? x.matmul(W(n + ".weight").t()) + W(n + ".bias") : x.matmul(W(n + ".weight").t());

        long t = ids.shape[1];
        int hd = c.HeadDim, half = hd / 2;
        var cos = new float[t, hd];
        var sin = new float[t, hd];
        for (int p = 0; p < t; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p * Math.Pow(c.RopeTheta, -2.0 * i / hd);
                cos[p, i] = cos[p, i + half] = (float)Math.Cos(angle);
                sin[p, i] = sin[p, i + half] = (float)Math.Sin(angle);
            }
        var cosT = tensor(cos);
        var sinT = tensor(sin);
        Tensor Rope(Tensor x) // (T, hd)
        {
            var rotated = cat(new[] { -x[.., half..], x[.., ..half] }, 1);
            return x * cosT + rotated * sinT;
        }

        var outputs = new List<Tensor>();
        for (long b = 0; b < ids.shape[0]; b++)
        {
            var x = W("model.embed_tokens.weight").index_select(0, ids[b]);   // (T, H)
            for (int l = 0; l < c.NumHiddenLayers; l++)
            {
                string pre = $"model.layers.{l}.";
                var h = Rms(x, W(pre + "input_layernorm.weight"));
                var q = Lin(h, pre + "self_attn.q_proj");
                var k = Lin(h, pre + "self_attn.k_proj");
                var v = Lin(h, pre + "self_attn.v_proj");
                var heads = new List<Tensor>();
                for (int head = 0; head < c.NumAttentionHeads; head++)
                {
                    int kvHead = head / (c.NumAttentionHeads / c.NumKeyValueHeads);
                    var qh = Rope(q[.., (head * hd)..((head + 1) * hd)]);
                    var kh = Rope(k[.., (kvHead * hd)..((kvHead + 1) * hd)]);
                    var vh = v[.., (kvHead * hd)..((kvHead + 1) * hd)];
                    var scores = qh.matmul(kh.t()) / Math.Sqrt(hd);
                    var mask = ones(t, t).triu(1).to(ScalarType.Bool);
                    heads.Add(scores.masked_fill(mask, float.NegativeInfinity).softmax(-1).matmul(vh));
                }
                x = x + Lin(cat(heads, 1), pre + "self_attn.o_proj");
                var m = Rms(x, W(pre + "post_attention_layernorm.weight"));
                var gate = Lin(m, pre + "mlp.gate_proj");
                x = x + Lin(gate * gate.sigmoid() * Lin(m, pre + "mlp.up_proj"), pre + "mlp.down_proj");
            }
            x = Rms(x, W("model.norm.weight"));
            outputs.Add(x.matmul(W(c.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight").t()));
        }
        return stack(outputs);
    }

    [Theory]
    [InlineData(true, false, true)]
    [InlineData(false, true, false)]
    public void ForwardMatchesAnIndependentReference(bool gqa, bool bias, bool tied)
    {
        var config = TinyModels.Config(gqa, bias, tied);
        using var model = TinyModels.Create(config);
        var ids = TinyModels.Ids(2, 9);
        using var guard = no_grad();
        var actual = model.forward(ids);
        var expected = Reference(model, config, ids);
        Assert.Equal(new long[] { 2, 9, 64 }, actual.shape);
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-4), $"max diff {(actual - expected).abs().max().item<float>()}");
    }

    [Fact]
    public void TiedHeadSharesTheEmbeddingAndQwenStyleHasQkvBias()
    {
        using var tied = TinyModels.Create(TinyModels.Config(tied: true));
        var p = tied.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using (no_grad()) p["model.embed_tokens.weight"].add_(1.0f);
        Assert.True(TensorAssert.Same(p["lm_head.weight"], p["model.embed_tokens.weight"]));   // one storage

        using var qwen = TinyModels.Create(TinyModels.Config(bias: true));
        var names = qwen.named_parameters().Select(x => x.name).ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", names);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", names);
    }

    [Fact]
    public void KvCacheDecodingEqualsFullForward()
    {
        using var model = TinyModels.Create();
        var ids = TinyModels.Ids(1, 8);
        using var guard = no_grad();
        var full = model.forward(ids);
        using var cache = new KvCache(model.NumLayers);
        var prefill = model.Forward(ids[.., ..5], cache);
        Assert.True(prefill.allclose(full[.., ..5], atol: 1e-5));
        for (int i = 5; i < 8; i++)
        {
            var step = model.Forward(ids[.., i..(i + 1)], cache);
            Assert.True(step[0, 0].allclose(full[0, i], atol: 1e-4), $"position {i}");
        }
        Assert.Equal(8, cache.Length);
    }

    [Fact]
    public void GenerationsLastPositionHeadEqualsTheFullForward()
    {
        // What TextGenerator does: the head only at the last position of the prefill, then of each decoded token.
        using var model = TinyModels.Create();
        var ids = TinyModels.Ids(1, 8, seed: 2);
        using var guard = no_grad();
        var full = model.forward(ids);                                 // (1, 8, V)
        using var cache = new KvCache(model.NumLayers);
        var prefill = model.Head(model.Hidden(ids[.., ..5], cache)[0, -1]);
        Assert.True(prefill.allclose(full[0, 4], atol: 1e-5));
        for (int i = 5; i < 8; i++)
        {
            var step = model.Head(model.Hidden(ids[.., i..(i + 1)], cache)[0, -1]);
            Assert.True(step.allclose(full[0, i], atol: 1e-4), $"position {i}");
        }
    }

    [Fact]
    public void FutureTokensDoNotChangePastLogits()
    {
        using var model = TinyModels.Create();
        var a = TinyModels.Ids(1, 10, seed: 1);
        var b = a.clone();
        b[0, 9] = (a[0, 9] + 1) % 64;
        using var guard = no_grad();
        Assert.True(model.forward(a)[.., ..9].allclose(model.forward(b)[.., ..9], atol: 1e-6));
    }
}
