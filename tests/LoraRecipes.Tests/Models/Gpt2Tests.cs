using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tests.IO;
using static TorchSharp.torch;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Tests.Models;

public class Gpt2Tests
{
    private const int V = 50, H = 24, Heads = 3, Layers = 2, P = 32, Inner = 4 * H;

    /// <summary>config.json as transformers writes it for a GPT-2 (n_inner null: 4·n_embd).</summary>
    private static JsonObject Config() => new()
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"), ["model_type"] = "gpt2", ["vocab_size"] = V, ["n_positions"] = P,
        ["n_embd"] = H, ["n_layer"] = Layers, ["n_head"] = Heads, ["n_inner"] = null, ["activation_function"] = "gelu_new",
        ["layer_norm_epsilon"] = 1e-5, ["bos_token_id"] = 0, ["eos_token_id"] = 0,
    };

    /// <summary>GPT2LMHeadModel's state dict: Conv1D weights [in, out], no lm_head (tied).</summary>
    private static Dictionary<string, Tensor> Checkpoint(string prefix = "transformer.")
    {
        var spec = new List<(string, long[])> { ("wte.weight", [V, H]), ("wpe.weight", [P, H]), ("ln_f.weight", [H]), ("ln_f.bias", [H]) };
        for (int l = 0; l < Layers; l++)
        {
            string p = $"h.{l}.";
            spec.AddRange(new (string, long[])[]
            {
                (p + "ln_1.weight", [H]), (p + "ln_1.bias", [H]), (p + "ln_2.weight", [H]), (p + "ln_2.bias", [H]),
                (p + "attn.c_attn.weight", [H, 3 * H]), (p + "attn.c_attn.bias", [3 * H]),
                (p + "attn.c_proj.weight", [H, H]), (p + "attn.c_proj.bias", [H]),
                (p + "mlp.c_fc.weight", [H, Inner]), (p + "mlp.c_fc.bias", [Inner]),
                (p + "mlp.c_proj.weight", [Inner, H]), (p + "mlp.c_proj.bias", [H]),
            });
        }
        return HfFixtures.Random(spec.Select(s => (prefix + s.Item1, s.Item2)));
    }

    /// <summary>
    /// GPT-2 from the stored tensors, as HF's Conv1D computes it (x @ W[in, out] + b), with explicit per-head
    /// causal softmax, learned positions, gelu_new written out, and the head tied to wte.
    /// </summary>
    private static Tensor Reference(IReadOnlyDictionary<string, Tensor> s, Tensor ids, string prefix = "transformer.")
    {
        Tensor W(string n) => s[prefix + n];
        Tensor Conv1D(Tensor x, string n) => x.matmul(W(n + ".weight")) + W(n + ".bias");
        Tensor Ln(Tensor x, string n) => HfFixtures.LayerNorm(x, W(n + ".weight"), W(n + ".bias"), 1e-5);
        Tensor GeluNew(Tensor x) => x * 0.5 * ((x + x.pow(3) * 0.044715) * Math.Sqrt(2 / Math.PI)).tanh().add(1);
        int hd = H / Heads;
        var rows = new List<Tensor>();
        for (long b = 0; b < ids.shape[0]; b++)
        {
            long t = ids.shape[1];
            var x = W("wte.weight").index_select(0, ids[b]) + W("wpe.weight")[..(int)t];
            for (int l = 0; l < Layers; l++)
            {
                string p = $"h.{l}.";
                var qkv = Conv1D(Ln(x, p + "ln_1"), p + "attn.c_attn");   // (T, 3H): q | k | v
                var heads = new List<Tensor>();
                for (int head = 0; head < Heads; head++)
                {
                    int lo = head * hd, hi = lo + hd;
                    heads.Add(HfFixtures.Head(qkv[.., lo..hi], qkv[.., (H + lo)..(H + hi)], qkv[.., (2 * H + lo)..(2 * H + hi)], causal: true));
                }
                x = x + Conv1D(cat(heads, 1), p + "attn.c_proj");
                x = x + Conv1D(GeluNew(Conv1D(Ln(x, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj");
            }
            rows.Add(Ln(x, "ln_f").matmul(W("wte.weight").t()));
        }
        return stack(rows);
    }

    [Theory]
    [InlineData("transformer.")]   // saved from GPT2LMHeadModel
    [InlineData("")]               // openai-community/gpt2 stores the bare GPT2Model
    public void LoadsAnHfCheckpointWithConv1DWeightsAndMatchesTheReference(string prefix)
    {
        using var dir = new TempDirectory();
        var stored = Checkpoint(prefix);
        HfFixtures.WriteFolder(dir.Path, Config(), stored);
        var (model, config) = HfFixtures.Load(dir.Path);
        using var _ = model;
        Assert.IsType<Gpt2LMHeadModel>(model);
        Assert.Equal(Inner, config.IntermediateSize);
        var ids = TinyModels.Ids(2, 11, V);
        using var guard = no_grad();
        HfFixtures.Close(Reference(stored, ids, prefix), model.forward(ids));
    }

    [Fact]
    public void ModulePathsAreHfsAndTheHeadIsTiedToWte()
    {
        using var model = new Gpt2LMHeadModel(ModelConfig.FromJson(Config(), "config.json"));
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        foreach (string name in new[] { "transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight", "transformer.h.0.attn.c_attn.weight",
            "transformer.h.0.attn.c_attn.bias", "transformer.h.1.attn.c_proj.weight", "transformer.h.1.ln_2.bias", "transformer.h.1.mlp.c_fc.weight",
            "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.weight" })
            Assert.Contains(name, p.Keys);
        Assert.Equal(new long[] { 3 * H, H }, p["transformer.h.0.attn.c_attn.weight"].shape);   // nn.Linear layout [out, in]
        using (no_grad()) p["transformer.wte.weight"].add_(1.0f);
        Assert.True(TensorAssert.Same(p["lm_head.weight"], p["transformer.wte.weight"]));
        Assert.True(model.FanInFanOut);
        Assert.Equal(model.Config.ParameterCount(), HfFixtures.Count(model, tiedHead: true));
    }

    [Fact]
    public void LoraOnCAttnHasPeftKeysAndShapesAndMergedEqualsUnmergedAndExportsTransposedBack()
    {
        using var dir = new TempDirectory();
        var stored = Checkpoint();
        HfFixtures.WriteFolder(dir.Path, Config(), stored);
        var (model, _) = HfFixtures.Load(dir.Path);
        using var _model = model;
        var wrapped = LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["c_attn"]));
        Assert.Equal(new[] { "transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn" }, wrapped.Keys);
        var layer = wrapped["transformer.h.0.attn.c_attn"];
        Assert.Equal(new long[] { 4, H }, layer.A.shape);        // PEFT: A [r, in]
        Assert.Equal(new long[] { 3 * H, 4 }, layer.B.shape);    // PEFT: B [out, r]
        Assert.Equal("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", AdapterKeys.For("transformer.h.0.attn.c_attn", "lora_A"));

        using var guard = no_grad();
        var g = new Generator(5);
        foreach (var l in wrapped.Values) l.B.copy_(randn(l.B.shape, generator: g) * 0.1);
        var ids = TinyModels.Ids(2, 9, V);
        var unmerged = model.forward(ids);
        Assert.False(unmerged.allclose(Reference(stored, ids), atol: 1e-3));   // the adapter does something
        foreach (var l in wrapped.Values) l.Merge();
        HfFixtures.Close(unmerged, model.forward(ids));

        // A merged checkpoint goes back to Conv1D's [in, out]: W' = W + (s·B A)ᵀ, under the HF name.
        var export = HfCheckpoint.StateDict(model);
        Assert.DoesNotContain(export.Keys, k => k.Contains("lora_") || k.Contains("base_layer"));
        var expected = stored["transformer.h.0.attn.c_attn.weight"] + layer.DeltaWeight().t();
        HfFixtures.Close(expected, export["transformer.h.0.attn.c_attn.weight"], 1e-6);
        HfFixtures.Close(stored["transformer.h.1.mlp.c_fc.weight"], export["transformer.h.1.mlp.c_fc.weight"], 0);
    }

    [Fact]
    public void KvCacheDecodingEqualsFullForward()
    {
        using var model = new Gpt2LMHeadModel(ModelConfig.FromJson(Config(), "config.json"));
        model.eval();
        var ids = TinyModels.Ids(1, 8, V);
        using var guard = no_grad();
        var full = model.forward(ids);
        using var cache = new KvCache(model.NumLayers);
        HfFixtures.Close(full[.., ..5], model.Forward(ids[.., ..5], cache), 1e-5);
        for (int i = 5; i < 8; i++) HfFixtures.Close(full[.., i..(i + 1)], model.Forward(ids[.., i..(i + 1)], cache));
    }

    [Fact]
    public void HiddenThenHeadEqualsTheForwardWithAndWithoutACache()
    {
        // The loss (head at scored rows) and generation (head at the last position) both go through Hidden + Head.
        using var model = new Gpt2LMHeadModel(ModelConfig.FromJson(Config(), "config.json"));
        model.eval();
        var ids = TinyModels.Ids(2, 8, V);
        using var guard = no_grad();
        var full = model.forward(ids);
        HfFixtures.Close(full, model.Head(model.Hidden(ids)), 1e-6);
        using var cache = new KvCache(model.NumLayers);
        var one = ids[..1];
        HfFixtures.Close(full[0, 4], model.Head(model.Hidden(one[.., ..5], cache)[0, -1]), 1e-5);
        for (int i = 5; i < 8; i++) HfFixtures.Close(full[0, i], model.Head(model.Hidden(one[.., i..(i + 1)], cache)[0, -1]));
    }

    [Fact]
    public void ConfigRoundTripsThroughHfKeys()
    {
        var c = ModelConfig.FromJson(Config(), "config.json");
        var again = ModelConfig.FromJson((JsonObject)JsonNode.Parse(c.ToJson())!, "config.json");
        Assert.Equal((c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize, c.MaxPositionEmbeddings, c.HiddenAct, c.TieWordEmbeddings),
            (again.HiddenSize, again.NumHiddenLayers, again.IntermediateSize, again.MaxPositionEmbeddings, again.HiddenAct, again.TieWordEmbeddings));
        Assert.Contains("\"n_embd\"", c.ToJson());
        var bad = Config();
        bad["activation_function"] = "swish_the_fish";
        Assert.Contains("activation_function", Assert.Throws<ModelLoadException>(() => ModelConfig.FromJson(bad, "config.json")).Message);
    }

    [Fact]
    public void AFanInFanOutAdapterSavedHereLoadsBackOntoGpt2()
    {
        using var model = new Gpt2LMHeadModel(ModelConfig.FromJson(Config(), "config.json"));
        model.eval();
        var wrapped = LoraInjector.Inject(model, new LoraSettings(2, 4, 0.0, ["c_attn", "c_fc"]));
        using (no_grad()) foreach (var l in wrapped.Values) l.B.normal_(0, 0.1);
        using var adapter = new TempDirectory();
        var config = new PeftAdapterConfig { BaseModelNameOrPath = "gpt2", R = 2, LoraAlpha = 4, TargetModules = ["c_attn", "c_fc"], FanInFanOut = model.FanInFanOut };
        File.WriteAllText(adapter.File(ArtifactFiles.AdapterConfig), config.ToJson());
        ArtifactWriter.WriteWeights(adapter.File(ArtifactFiles.AdapterWeights), wrapped);
        Assert.True(PeftAdapterConfig.Load(adapter.File(ArtifactFiles.AdapterConfig)).FanInFanOut);

        using var fresh = new Gpt2LMHeadModel(model.Config);
        fresh.eval();
        using (no_grad())
        {
            var source = model.named_parameters().ToDictionary(x => x.name.Replace(".base_layer.", "."), x => x.parameter);
            foreach (var (name, p) in fresh.named_parameters()) p.copy_(source[name]);
        }
        var applied = AdapterLoader.Apply(fresh, adapter.Path);
        Assert.Equal(wrapped.Keys, applied.Keys);
        var ids = TinyModels.Ids(1, 6, V);
        using var guard = no_grad();
        HfFixtures.Close(model.forward(ids), fresh.forward(ids), 1e-6);
    }
}
