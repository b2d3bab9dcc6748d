using System.Text.Json.Nodes;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>A recipe with <c>method: bottleneck_adapter</c> runs end to end through the CLI on the tiny builtin model.</summary>
public sealed class BottleneckCommandTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void ABottleneckRecipeTrainsInspectShowsItAndMergeRefusesIt()
    {
        string recipe = _folder.Write("adapter.yaml", """
            name: adapter
            base_model: builtin:tiny-llama
            method: bottleneck_adapter
            data:
              train: data.jsonl
              validation_split: 0.25
              max_length: 128
            bottleneck_adapter:
              bottleneck_size: 8
              placement: both
              non_linearity: swish
            training:
              max_steps: 2
              batch_size: 4
              threads: 2
            output:
              dir: out-adapter
            """);
        var (code, output) = CliRunner.Run("run", recipe);
        Assert.True(code == 0, output);
        string adapter = Path.Combine(_folder.Directory, "out-adapter");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")))!;
        Assert.Equal("BOTTLENECK_ADAPTER", (string?)config["peft_type"]);
        Assert.Equal(8, (int)config["bottleneck_size"]!);

        var (inspectCode, inspect) = CliRunner.Run("inspect", adapter);
        Assert.True(inspectCode == 0, inspect);
        Assert.Contains("bottleneck adapter (width 8, swish, placement both", inspect);
        // 4 layers × 2 placements × (down 8×256 + 8, up 256×8 + 256).
        Assert.Contains((4 * 2 * (2 * 256 * 8 + 8 + 256)).ToString("N0", System.Globalization.CultureInfo.InvariantCulture), inspect);

        var (mergeCode, merge) = CliRunner.Run("merge", adapter, "--output", Path.Combine(_folder.Directory, "merged"));
        Assert.NotEqual(0, mergeCode);
        Assert.Contains("cannot be merged", merge);
        Assert.False(Directory.Exists(Path.Combine(_folder.Directory, "merged")));
    }

    [Fact]
    public void BottleneckSettingsUnderLoraAndLoraSettingsUnderBottleneckAreErrorsWithPositions()
    {
        string recipe = _folder.Write("bad.yaml", """
            name: bad
            base_model: builtin:tiny-llama
            data:
              train: data.jsonl
            bottleneck_adapter:
              placement: both
            """);
        var (code, output) = CliRunner.Run("validate", recipe);
        Assert.NotEqual(0, code);
        Assert.Contains("bad.yaml(6,", output);
        Assert.Contains("bottleneck_adapter.placement is a bottleneck adapter setting; method is lora", output);

        string both = _folder.Write("both.yaml", """
            name: both
            base_model: builtin:tiny-llama
            method: bottleneck_adapter
            data:
              train: data.jsonl
            lora:
              use_dora: true
            bottleneck_adapter:
              reduction_factor: 8
              bottleneck_size: 4
              non_linearity: softmax
            """);
        (code, output) = CliRunner.Run("validate", both);
        Assert.NotEqual(0, code);
        Assert.Contains("both.yaml(7,", output);
        Assert.Contains("lora.use_dora is a LoRA setting; method is bottleneck_adapter", output);
        Assert.Contains("both.yaml(11,", output);   // not one of relu, gelu, swish, tanh
        Assert.Contains("non_linearity", output);
        Assert.Contains("both.yaml(9,", output);   // a warning: the explicit width wins
        Assert.Contains("reduction_factor has no effect", output);
    }
}
