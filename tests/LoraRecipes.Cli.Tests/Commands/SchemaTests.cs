using System.Text.Json.Nodes;
using LoraRecipes.Recipes.Schema;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>The JSON Schema is generated from RecipeSchema.Entries: every key appears with its constraints.</summary>
public sealed class SchemaTests
{
    private static readonly JsonObject Schema = JsonNode.Parse(RecipeJsonSchema.Generate())!.AsObject();

    private static JsonObject At(string path)
    {
        JsonObject node = Schema;
        foreach (string key in path.Split('.')) node = node["properties"]![key]!.AsObject();
        return node;
    }

    [Fact]
    public void IsDraft2020With_EveryKeyOfTheTable()
    {
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", (string)Schema["$schema"]!);
        foreach (var entry in RecipeSchema.Entries)
            Assert.Equal(entry.Doc, (string)At(entry.Path)["description"]!);
        Assert.False((bool)Schema["additionalProperties"]!);
        Assert.False((bool)At("lora")["additionalProperties"]!);
    }

    [Fact]
    public void ConstraintsComeFromTheTable()
    {
        Assert.Equal(1, (int)At("lora.r")["minimum"]!);
        Assert.Equal("integer", (string)At("lora.r")["type"]!);
        Assert.Equal(0, (int)At("lora.alpha")["exclusiveMinimum"]!);
        Assert.Equal(1, (int)At("lora.dropout")["exclusiveMaximum"]!);
        Assert.Equal(["linear", "cosine", "constant"], At("training.scheduler")["enum"]!.AsArray().Select(v => (string)v!));
        Assert.Equal("^[a-z0-9._-]+$", (string)At("name")["pattern"]!);
        Assert.Contains("null", At("training.max_steps")["type"]!.AsArray().Select(v => (string)v!));
        Assert.Equal("all-linear", (string)At("lora.target_modules")["anyOf"]![1]!["const"]!);
    }

    [Fact]
    public void RequiredKeysApplyOnlyWithoutExtends()
    {
        Assert.Equal(["name", "base_model", "data"], Schema["then"]!["required"]!.AsArray().Select(v => (string)v!));
        Assert.Equal("extends", (string)Schema["if"]!["not"]!["required"]![0]!);
    }
}
