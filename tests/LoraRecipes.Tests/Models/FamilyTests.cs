using System.Text.Json.Nodes;
using LoraRecipes.Models;
using LoraRecipes.Tests.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

/// <summary>The family table, decoder classification, and Qwen3's q/k norms.</summary>
public class FamilyTests
{
    [Fact]
    public void UnknownModelTypeListsEverySupportedFamily()
    {
        var config = TinyModels.Config() with { ModelType = "t5" };
        var ex = Assert.Throws<ModelLoadException>(() => ModelFamilies.Create(config));
        foreach (string family in new[] { "bert", "distilbert", "gpt2", "llama", "mistral", "qwen2", "qwen3" }) Assert.Contains(family, ex.Message);
        Assert.Contains("t5", ex.Message);
        var gpt2 = Assert.Throws<ModelLoadException>(() => ModelFamilies.CreateForSequenceClassification(config with { ModelType = "gpt2" }));
        Assert.Contains("distilbert", gpt2.Message);
    }

    private static LlamaForSequenceClassification Classifier(ModelConfig config)
    {
        manual_seed(4);
        var model = new LlamaForSequenceClassification(config);
        using (no_grad()) foreach (var (_, p) in model.named_parameters()) p.copy_(randn_like(p) * 0.2 + (p.dim() == 1 ? 1 : 0));
        model.eval();
        return model;
    }

    [Fact]
    public void DecoderHeadReadsTheLastRealTokenAsACausalLMWhoseHeadIsScoreWould()
    {
        var config = TinyModels.Config(tied: false) with { Labels = ["a", "b", "c"] };
        using var model = Classifier(config);
        Assert.Equal(["score"], model.HeadModules);
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("score.weight", names);
        Assert.Contains("model.layers.1.self_attn.q_proj.weight", names);
        Assert.Equal(config.ParameterCount() - (long)config.VocabSize * config.HiddenSize + 3 * config.HiddenSize, HfFixtures.Count(model, false));

        // Reference: the (separately tested) causal LM with the same decoder and lm_head rows 0..2 = score.
        using var lm = new LlamaForCausalLM(config);
        lm.eval();
        var source = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        {
            foreach (var (name, p) in lm.named_parameters())
            {
                if (name == "lm_head.weight") { p.zero_(); p[..3].copy_(source["score.weight"]); }
                else p.copy_(source[name]);
            }
        }
        var ids = TinyModels.Ids(2, 8);
        var mask = ones(2, 8, ScalarType.Int64);
        mask[1, 5..] = 0;   // row 1: five tokens, then padding on the right
        using var guard = no_grad();
        var logits = model.Classify(ids, mask);
        var full = lm.forward(ids);
        HfFixtures.Close(full[0, 7, ..3], logits[0]);
        HfFixtures.Close(full[1, 4, ..3], logits[1]);
        var left = mask.flip(1);
        Assert.Throws<ArgumentException>(() => model.Classify(ids, left));
    }

    [Fact]
    public void DecoderClassifierLoadsACausalCheckpointWithAFreshScore()
    {
        using var dir = new TempDirectory();
        var config = TinyModels.Config(tied: true);
        using var lm = TinyModels.Create(config);
        var tensors = lm.named_parameters().Where(p => p.name != "lm_head.weight").ToDictionary(p => p.name, p => (Tensor)p.parameter);
        HfFixtures.WriteFolder(dir.Path, (JsonObject)JsonNode.Parse(config.ToJson())!, tensors);
        var (a, _) = HfFixtures.Load(dir.Path, classifier: true);
        var (b, _) = HfFixtures.Load(dir.Path, classifier: true);
        using var first = a;
        using var second = b;
        var pa = first.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.True(TensorAssert.Same(tensors["model.layers.0.mlp.up_proj.weight"], pa["model.layers.0.mlp.up_proj.weight"]));
        Assert.True(TensorAssert.Same(pa["score.weight"], second.named_parameters().First(p => p.name == "score.weight").parameter));
        Assert.Equal(new long[] { 2, config.HiddenSize }, pa["score.weight"].shape);   // HF's default two labels
    }

    [Fact]
    public void Qwen3NormalisesQueriesAndKeysPerHead()
    {
        var json = new JsonObject
        {
            ["model_type"] = "qwen3", ["vocab_size"] = 64, ["hidden_size"] = 32, ["intermediate_size"] = 48, ["num_hidden_layers"] = 2,
            ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2, ["head_dim"] = 16, ["tie_word_embeddings"] = true,
        };
        var config = ModelConfig.FromJson(json, "config.json");
        Assert.True(config.QkNorm);
        Assert.False(config.AttentionBias);
        using var model = TinyModels.Create(config);
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        Assert.Equal(new long[] { 16 }, p["model.layers.0.self_attn.q_norm.weight"].shape);
        Assert.Equal(new long[] { 16 }, p["model.layers.1.self_attn.k_norm.weight"].shape);
        Assert.Equal(config.ParameterCount(), HfFixtures.Count(model, tiedHead: true));

        // RMSNorm is scale-invariant, so with q/k norms scaling q_proj and k_proj changes nothing; a Llama would change.
        var ids = TinyModels.Ids(1, 7);
        using var guard = no_grad();
        var before = model.forward(ids);
        p["model.layers.0.self_attn.q_proj.weight"].mul_(7.0);
        p["model.layers.1.self_attn.k_proj.weight"].mul_(0.2);
        HfFixtures.Close(before, model.forward(ids), 1e-3);
        using var llama = TinyModels.Create(config with { ModelType = "llama", QkNorm = false });
        var lp = llama.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        var llamaBefore = llama.forward(ids);
        lp["model.layers.0.self_attn.q_proj.weight"].mul_(7.0);
        Assert.False(llamaBefore.allclose(llama.forward(ids), atol: 1e-3));
    }

    [Fact]
    public void LabelsComeFromId2LabelOrNumLabels()
    {
        Assert.Equal(["LABEL_0", "LABEL_1", "LABEL_2"], ClassificationLabels.Read(new JsonObject { ["num_labels"] = 3 }, "c"));
        Assert.Equal(ClassificationLabels.Default, ClassificationLabels.Read(new JsonObject(), "c"));
        var gap = new JsonObject { ["id2label"] = new JsonObject { ["0"] = "x", ["2"] = "y" } };
        Assert.Contains("id2label", Assert.Throws<ModelLoadException>(() => ClassificationLabels.Read(gap, "c")).Message);
    }
}
