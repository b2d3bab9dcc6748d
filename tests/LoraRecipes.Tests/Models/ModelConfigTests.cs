using System.Text.Json.Nodes;
using LoraRecipes.Models;

namespace LoraRecipes.Tests.Models;

public class ModelConfigTests
{
    private static JsonObject Valid() => new()
    {
        ["model_type"] = "llama", ["vocab_size"] = 100, ["hidden_size"] = 64, ["intermediate_size"] = 128,
        ["num_hidden_layers"] = 2, ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2,
    };

    [Fact]
    public void ReadsFieldsAndDerivesDefaults()
    {
        var c = ModelConfig.FromJson(Valid(), "config.json");
        Assert.Equal(16, c.HeadDim);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.False(c.AttentionBias);
        var qwen = Valid();
        qwen["model_type"] = "qwen2";
        Assert.True(ModelConfig.FromJson(qwen, "config.json").AttentionBias);
    }

    [Theory]
    [InlineData("hidden_size", "\"wide\"", "must be an integer")]
    [InlineData("num_key_value_heads", "3", "not a multiple")]
    [InlineData("vocab_size", "-5", "expected 1..")]
    [InlineData("num_hidden_layers", null, "\"num_hidden_layers\" is missing")]
    public void BadFieldsAreNamed(string key, string? json, string expected)
    {
        var o = Valid();
        if (json is null) o.Remove(key);
        else o[key] = JsonNode.Parse(json);
        var ex = Assert.Throws<ModelLoadException>(() => ModelConfig.FromJson(o, "m/config.json"));
        Assert.Contains(expected, ex.Message);
        Assert.Contains("m/config.json", ex.Message);
    }

    [Fact]
    public void AbsurdSizesAreRefusedBeforeAllocating()
    {
        var o = Valid();
        o["hidden_size"] = 65536;
        o["num_attention_heads"] = 64;
        o["num_key_value_heads"] = 64;
        o["intermediate_size"] = 1 << 20;
        o["num_hidden_layers"] = 1024;
        var ex = Assert.Throws<ModelLoadException>(() => ModelConfig.FromJson(o, "config.json"));
        Assert.Contains("refusing to allocate", ex.Message);
    }
}
