using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Tests.IO;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

/// <summary>BERT and DistilBERT sequence classifiers against references written from HF's modeling code.</summary>
public class EncoderTests
{
    private const int V = 40, H = 16, Heads = 2, Layers = 2, I = 32, P = 20;
    private static readonly string[] LabelNames = ["negative", "positive", "neutral"];

    private static JsonObject Id2Label() => new() { ["0"] = LabelNames[0], ["1"] = LabelNames[1], ["2"] = LabelNames[2] };

    private static JsonObject BertConfig() => new()
    {
        ["architectures"] = new JsonArray("BertForSequenceClassification"), ["model_type"] = "bert", ["vocab_size"] = V, ["hidden_size"] = H,
        ["num_hidden_layers"] = Layers, ["num_attention_heads"] = Heads, ["intermediate_size"] = I, ["hidden_act"] = "gelu",
        ["max_position_embeddings"] = P, ["type_vocab_size"] = 2, ["layer_norm_eps"] = 1e-12, ["pad_token_id"] = 0, ["id2label"] = Id2Label(),
    };

    private static JsonObject DistilConfig() => new()
    {
        ["architectures"] = new JsonArray("DistilBertForSequenceClassification"), ["model_type"] = "distilbert", ["vocab_size"] = V, ["dim"] = H,
        ["n_layers"] = Layers, ["n_heads"] = Heads, ["hidden_dim"] = I, ["activation"] = "gelu", ["max_position_embeddings"] = P,
        ["sinusoidal_pos_embds"] = false, ["pad_token_id"] = 0, ["id2label"] = Id2Label(),
    };

    private static IEnumerable<(string, long[])> Linear(string name, long inF, long outF) => [(name + ".weight", [outF, inF]), (name + ".bias", [outF])];
    private static IEnumerable<(string, long[])> Norm(string name) => [(name + ".weight", [H]), (name + ".bias", [H])];

    private static Dictionary<string, Tensor> BertCheckpoint(bool withHead = true)
    {
        var spec = new List<(string, long[])>
        {
            ("bert.embeddings.word_embeddings.weight", [V, H]), ("bert.embeddings.position_embeddings.weight", [P, H]),
            ("bert.embeddings.token_type_embeddings.weight", [2, H]),
        };
        spec.AddRange(Norm("bert.embeddings.LayerNorm"));
        for (int l = 0; l < Layers; l++)
        {
            string p = $"bert.encoder.layer.{l}.";
            foreach (string n in new[] { "query", "key", "value" }) spec.AddRange(Linear(p + "attention.self." + n, H, H));
            spec.AddRange(Linear(p + "attention.output.dense", H, H));
            spec.AddRange(Norm(p + "attention.output.LayerNorm"));
            spec.AddRange(Linear(p + "intermediate.dense", H, I));
            spec.AddRange(Linear(p + "output.dense", I, H));
            spec.AddRange(Norm(p + "output.LayerNorm"));
        }
        spec.AddRange(Linear("bert.pooler.dense", H, H));
        if (withHead) spec.AddRange(Linear("classifier", H, 3));
        return HfFixtures.Random(spec);
    }

    private static Dictionary<string, Tensor> DistilCheckpoint(bool withHead = true)
    {
        var spec = new List<(string, long[])> { ("distilbert.embeddings.word_embeddings.weight", [V, H]), ("distilbert.embeddings.position_embeddings.weight", [P, H]) };
        spec.AddRange(Norm("distilbert.embeddings.LayerNorm"));
        for (int l = 0; l < Layers; l++)
        {
            string p = $"distilbert.transformer.layer.{l}.";
            foreach (string n in new[] { "q_lin", "k_lin", "v_lin", "out_lin" }) spec.AddRange(Linear(p + "attention." + n, H, H));
            spec.AddRange(Norm(p + "sa_layer_norm"));
            spec.AddRange(Linear(p + "ffn.lin1", H, I));
            spec.AddRange(Linear(p + "ffn.lin2", I, H));
            spec.AddRange(Norm(p + "output_layer_norm"));
        }
        if (withHead)
        {
            spec.AddRange(Linear("pre_classifier", H, H));
            spec.AddRange(Linear("classifier", H, 3));
        }
        return HfFixtures.Random(spec);
    }

    private static Tensor Lin(IReadOnlyDictionary<string, Tensor> s, Tensor x, string n) => x.matmul(s[n + ".weight"].t()) + s[n + ".bias"];
    private static Tensor Ln(IReadOnlyDictionary<string, Tensor> s, Tensor x, string n) => HfFixtures.LayerNorm(x, s[n + ".weight"], s[n + ".bias"], 1e-12);

    /// <summary>Bidirectional multi-head attention over one unpadded sequence (T, H), head by head.</summary>
    private static Tensor SelfAttention(Tensor q, Tensor k, Tensor v)
    {
        int hd = H / Heads;
        var heads = new List<Tensor>();
        for (int h = 0; h < Heads; h++)
            heads.Add(HfFixtures.Head(q[.., (h * hd)..((h + 1) * hd)], k[.., (h * hd)..((h + 1) * hd)], v[.., (h * hd)..((h + 1) * hd)], causal: false));
        return cat(heads, 1);
    }

    /// <summary>BertForSequenceClassification on ONE sequence with no padding at all (ids: (T)).</summary>
    private static Tensor BertReference(IReadOnlyDictionary<string, Tensor> s, Tensor ids)
    {
        long t = ids.shape[0];
        var x = s["bert.embeddings.word_embeddings.weight"].index_select(0, ids) + s["bert.embeddings.position_embeddings.weight"][..(int)t]
            + s["bert.embeddings.token_type_embeddings.weight"][0];
        x = Ln(s, x, "bert.embeddings.LayerNorm");
        for (int l = 0; l < Layers; l++)
        {
            string p = $"bert.encoder.layer.{l}.";
            var context = SelfAttention(Lin(s, x, p + "attention.self.query"), Lin(s, x, p + "attention.self.key"), Lin(s, x, p + "attention.self.value"));
            var a = Ln(s, Lin(s, context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm");
            x = Ln(s, Lin(s, HfFixtures.GeluErf(Lin(s, a, p + "intermediate.dense")), p + "output.dense") + a, p + "output.LayerNorm");
        }
        var pooled = Lin(s, x[0], "bert.pooler.dense").tanh();
        return Lin(s, pooled, "classifier");   // (L)
    }

    /// <summary>DistilBertForSequenceClassification on one unpadded sequence.</summary>
    private static Tensor DistilReference(IReadOnlyDictionary<string, Tensor> s, Tensor ids)
    {
        long t = ids.shape[0];
        var x = Ln(s, s["distilbert.embeddings.word_embeddings.weight"].index_select(0, ids) + s["distilbert.embeddings.position_embeddings.weight"][..(int)t],
            "distilbert.embeddings.LayerNorm");
        for (int l = 0; l < Layers; l++)
        {
            string p = $"distilbert.transformer.layer.{l}.";
            var context = SelfAttention(Lin(s, x, p + "attention.q_lin"), Lin(s, x, p + "attention.k_lin"), Lin(s, x, p + "attention.v_lin"));
            var a = Ln(s, Lin(s, context, p + "attention.out_lin") + x, p + "sa_layer_norm");
            x = Ln(s, Lin(s, HfFixtures.GeluErf(Lin(s, a, p + "ffn.lin1")), p + "ffn.lin2") + a, p + "output_layer_norm");
        }
        return Lin(s, Lin(s, x[0], "pre_classifier").relu(), "classifier");
    }

    /// <summary>Two right-padded rows (lengths 7 and 4, pad id 0) and their mask.</summary>
    private static (Tensor Ids, Tensor Mask, int[] Lengths) PaddedBatch()
    {
        int[] lengths = [7, 4];
        var ids = TinyModels.Ids(2, 7, V, seed: 11).clamp_min(1);
        var mask = zeros(2, 7, ScalarType.Int64);
        for (int b = 0; b < 2; b++)
        {
            mask[b, ..lengths[b]] = 1;
            ids[b, lengths[b]..] = 0;
        }
        return (ids, mask, lengths);
    }

    public static TheoryData<string> Families => new() { "bert", "distilbert" };

    private static (JsonObject Config, Dictionary<string, Tensor> Stored, Func<Tensor, Tensor> Reference) Family(string family, bool withHead = true)
    {
        if (family == "bert")
        {
            var s = BertCheckpoint(withHead);
            return (BertConfig(), s, ids => BertReference(s, ids));
        }
        var d = DistilCheckpoint(withHead);
        return (DistilConfig(), d, ids => DistilReference(s: d, ids));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void PaddedBatchFromAnHfCheckpointMatchesTheUnpaddedReference(string family)
    {
        using var dir = new TempDirectory();
        var (config, stored, reference) = Family(family);
        HfFixtures.WriteFolder(dir.Path, config, stored);
        var (model, loaded) = HfFixtures.Load(dir.Path);
        using var _ = model;
        var classifier = Assert.IsAssignableFrom<ISequenceClassifier>(model);
        Assert.Equal(LabelNames, classifier.Labels);
        Assert.Equal(LabelNames, loaded.Labels);

        var (ids, mask, lengths) = PaddedBatch();
        using var guard = no_grad();
        var logits = classifier.Classify(ids, mask);
        Assert.Equal(new long[] { 2, 3 }, logits.shape);
        for (int b = 0; b < 2; b++) HfFixtures.Close(reference(ids[b, ..lengths[b]]), logits[b]);

        // What the pad positions hold cannot matter once they are masked.
        var other = ids.clone();
        other[1, 4..] = 5;
        HfFixtures.Close(logits, classifier.Classify(other, mask), 1e-6);
    }

    [Fact]
    public void BertModulePathsAreHfsAndOnlyTheHeadIsSaved()
    {
        using var model = new BertForSequenceClassification(ModelConfig.FromJson(BertConfig(), "config.json"));
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        foreach (string n in new[] { "bert.embeddings.word_embeddings.weight", "bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight",
            "bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.1.attention.output.LayerNorm.bias",
            "bert.encoder.layer.0.intermediate.dense.weight", "bert.encoder.layer.1.output.dense.bias", "bert.pooler.dense.weight", "classifier.weight" })
            Assert.Contains(n, names);
        Assert.Equal(model.Config.ParameterCount(), HfFixtures.Count(model, tiedHead: false));
        Assert.Equal(["classifier"], model.HeadModules);
        var heads = SequenceClassification.HeadTensors(model, model.HeadModules);
        Assert.Equal(["base_model.model.classifier.bias", "base_model.model.classifier.weight"], heads.Keys);
    }

    [Fact]
    public void DistilBertModulePathsAreHfsAndAllLinearLeavesTheHeadAlone()
    {
        using var model = new DistilBertForSequenceClassification(ModelConfig.FromJson(DistilConfig(), "config.json"));
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        foreach (string n in new[] { "distilbert.embeddings.word_embeddings.weight", "distilbert.embeddings.LayerNorm.bias",
            "distilbert.transformer.layer.0.attention.q_lin.weight", "distilbert.transformer.layer.1.attention.out_lin.bias",
            "distilbert.transformer.layer.0.sa_layer_norm.weight", "distilbert.transformer.layer.0.ffn.lin1.weight",
            "distilbert.transformer.layer.1.output_layer_norm.bias", "pre_classifier.weight", "classifier.bias" })
            Assert.Contains(n, names);
        Assert.Equal(model.Config.ParameterCount(), HfFixtures.Count(model, tiedHead: false));
        Assert.Equal(["pre_classifier", "classifier"], model.HeadModules);
        var wrapped = LoraInjector.Inject(model, new LoraSettings(2, 4, 0.0, [TargetMatcher.AllLinear]));
        Assert.Equal(Layers * 6, wrapped.Count);
        Assert.DoesNotContain(wrapped.Keys, k => k.Contains("classifier"));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void BaseModelCheckpointsWithoutPrefixOrHeadLoadWithADeterministicFreshHead(string family)
    {
        using var dir = new TempDirectory();
        var (config, stored, _) = Family(family, withHead: false);
        string prefix = family + ".";
        // A bare BertModel/DistilBertModel checkpoint (as bert-base-uncased ships its encoder), TF-era gamma/beta names.
        var bare = stored.ToDictionary(
            kv => kv.Key[prefix.Length..].Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta"), kv => kv.Value);
        HfFixtures.WriteFolder(dir.Path, config, bare);
        var (first, _) = HfFixtures.Load(dir.Path);
        var (second, _) = HfFixtures.Load(dir.Path);
        using var a = first;
        using var b = second;
        var pa = a.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var pb = b.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, value) in stored) Assert.True(TensorAssert.Same(value, pa[name]), name);
        Assert.True(TensorAssert.Same(pa["classifier.weight"], pb["classifier.weight"]));
        Assert.Equal(0f, pa["classifier.bias"].abs().sum().item<float>());
        Assert.InRange(pa["classifier.weight"].std().item<float>(), 0.005f, 0.05f);   // N(0, 0.02)
    }

    [Fact]
    public void LoraOnQLinMergedEqualsUnmergedWithPaddingAndKeepsPeftKeys()
    {
        using var dir = new TempDirectory();
        var (config, stored, reference) = Family("distilbert");
        HfFixtures.WriteFolder(dir.Path, config, stored);
        var (model, _) = HfFixtures.Load(dir.Path);
        using var _model = model;
        var classifier = (ISequenceClassifier)model;
        var wrapped = LoraInjector.Inject(model, new LoraSettings(4, 32, 0.0, ["q_lin"]));
        Assert.Equal(new[] { "distilbert.transformer.layer.0.attention.q_lin", "distilbert.transformer.layer.1.attention.q_lin" }, wrapped.Keys);
        Assert.Equal("base_model.model.distilbert.transformer.layer.0.attention.q_lin.lora_B.weight",
            AdapterKeys.For("distilbert.transformer.layer.0.attention.q_lin", "lora_B"));
        Assert.All(model.named_parameters(), p => Assert.Equal(p.name.Contains(".lora_"), p.parameter.requires_grad));

        var (ids, mask, lengths) = PaddedBatch();
        using var guard = no_grad();
        HfFixtures.Close(reference(ids[0, ..lengths[0]]), classifier.Classify(ids, mask)[0]);   // B = 0: still the base model
        var g = new Generator(9);
        foreach (var l in wrapped.Values) l.B.copy_(randn(l.B.shape, generator: g) * 0.05);
        var unmerged = classifier.Classify(ids, mask);
        foreach (var l in wrapped.Values) l.Merge();
        HfFixtures.Close(unmerged, classifier.Classify(ids, mask));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void ConfigRoundTripsThroughHfKeys(string family)
    {
        var (json, _, _) = Family(family);
        var c = ModelConfig.FromJson(json, "config.json");
        var again = ModelConfig.FromJson((JsonObject)JsonNode.Parse(c.ToJson())!, "config.json");
        Assert.Equal((c.ModelType, c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize, c.NumAttentionHeads, c.HiddenAct, c.LayerNormEps, c.TypeVocabSize),
            (again.ModelType, again.HiddenSize, again.NumHiddenLayers, again.IntermediateSize, again.NumAttentionHeads, again.HiddenAct, again.LayerNormEps, again.TypeVocabSize));
        Assert.Equal(LabelNames, again.Labels);
        Assert.Contains("\"label2id\"", c.ToJson());
    }
}
