using System.Globalization;
using System.Text.Json.Nodes;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>A recipe with <c>method: freeze</c> through the CLI on builtin:tiny-llama: plan, run, inspect, merge, and its validation errors.</summary>
public sealed class FreezeCommandTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void AFreezeRecipePlansTrainsInspectsAndMerges()
    {
        string recipe = _folder.Write("frozen.yaml", """
            name: frozen
            base_model: builtin:tiny-llama
            method: freeze
            data:
              train: data.jsonl
              validation_split: 0.25
              max_length: 128
            freeze:
              trainable_layers: 1
              modules: [mlp]
              train_head: false
              unfreeze_schedule:
                every: 1
                max_layers: 2
            training:
              max_steps: 2
              batch_size: 4
              threads: 2
            output:
              dir: out-frozen
            """);
        var (planCode, plan) = CliRunner.Run("plan", recipe);
        Assert.True(planCode == 0, plan);
        Assert.Contains("freeze: blocks 3 of 0..3 train in full (mlp)", plan);
        Assert.Contains("blocks 2..3 trainable after 1 steps", plan);
        // tiny-llama: hidden 256, intermediate 688 (gate, up: 688×256; down: 256×688), no biases.
        long mlp = 3L * 256 * 688;
        Assert.Contains($"at start: trainable params: {mlp.ToString("N0", CultureInfo.InvariantCulture)} ||", plan);
        Assert.Contains($"at end:   trainable params: {(2 * mlp).ToString("N0", CultureInfo.InvariantCulture)} ||", plan);

        var (code, output) = CliRunner.Run("run", recipe);
        Assert.True(code == 0, output);
        string adapter = Path.Combine(_folder.Directory, "out-frozen");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")))!;
        Assert.Equal("FREEZE", (string?)config["peft_type"]);
        Assert.Equal("[2,3]", config["layers_to_transform"]!.ToJsonString());
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, "lora-manifest.json")))!;
        Assert.Equal("freeze", (string?)manifest["adapter"]!["method"]!["name"]);
        Assert.Equal(2 * mlp, (long)manifest["adapter"]!["trainable_parameters"]!);

        var (inspectCode, inspect) = CliRunner.Run("inspect", adapter);
        Assert.True(inspectCode == 0, inspect);
        Assert.Contains("freeze (blocks 2, 3 of 4, modules mlp", inspect);

        string merged = Path.Combine(_folder.Directory, "merged");
        var (mergeCode, merge) = CliRunner.Run("merge", adapter, "--output", merged);
        Assert.True(mergeCode == 0, merge);
        Assert.Contains("substituted the freeze delta", merge);
        Assert.True(File.Exists(Path.Combine(merged, "model.safetensors")));
    }

    [Fact]
    public void BadFreezeValuesAreErrorsWithPositions()
    {
        string bad = _folder.Write("bad.yaml", """
            name: bad
            base_model: builtin:tiny-llama
            method: freeze
            data:
              train: data.jsonl
            freeze:
              trainable_layers: -1
              modules: everything
              unfreeze_schedule:
                every: 0
            """);
        var (code, output) = CliRunner.Run("validate", bad);
        Assert.NotEqual(0, code);
        Assert.Contains("bad.yaml(7,", output);
        Assert.Contains("freeze.trainable_layers", output);
        Assert.Contains("bad.yaml(8,", output);
        Assert.Contains("freeze.modules must be a list or all", output);
        Assert.Contains("bad.yaml(10,", output);

        string nothing = _folder.Write("nothing.yaml", """
            name: nothing
            base_model: builtin:tiny-llama
            method: freeze
            data:
              train: data.jsonl
            freeze:
              trainable_layers: 3
              train_head: false
              unfreeze_schedule:
                every: 5
                max_layers: 2
            """);
        (code, output) = CliRunner.Run("validate", nothing);
        Assert.NotEqual(0, code);
        Assert.Contains("nothing.yaml(11,", output);
        Assert.Contains("max_layers (2) is below freeze.trainable_layers (3)", output);

        string head = _folder.Write("head.yaml", """
            name: head
            base_model: builtin:tiny-llama
            method: freeze
            data:
              train: data.jsonl
            freeze:
              trainable_layers: 0
              train_head: false
            """);
        (code, output) = CliRunner.Run("validate", head);
        Assert.NotEqual(0, code);
        Assert.Contains("head.yaml(7,", output);
        Assert.Contains("nothing would train", output);

        string other = _folder.Write("other.yaml", """
            name: other
            base_model: builtin:tiny-llama
            data:
              train: data.jsonl
            freeze:
              trainable_layers: 3
            """);
        (code, output) = CliRunner.Run("validate", other);
        Assert.NotEqual(0, code);
        Assert.Contains("other.yaml(6,", output);
        Assert.Contains("freeze.trainable_layers is a freeze setting; method is lora", output);

        // Larger than the model: known once the model is, at plan (and run) time, naming its block count.
        string many = _folder.Write("many.yaml", """
            name: many
            base_model: builtin:tiny-llama
            method: freeze
            data:
              train: data.jsonl
            freeze:
              trainable_layers: 9
            """);
        (code, output) = CliRunner.Run("plan", many);
        Assert.NotEqual(0, code);
        Assert.Contains("freeze.trainable_layers is 9 but this llama model has 4 transformer blocks", output);
    }
}
