using System.Text.Json.Nodes;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>A recipe with <c>method: ia3</c> runs end to end through the CLI on the tiny builtin model.</summary>
public sealed class MethodCommandTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void AnIa3RecipeTrainsSavesPeftsIa3LayoutAndInspectShowsIt()
    {
        string recipe = _folder.Write("ia3.yaml", """
            name: ia3
            base_model: builtin:tiny-llama
            method: ia3
            data:
              train: data.jsonl
              validation_split: 0.25
              max_length: 128
            ia3:
              target_modules: [k_proj, v_proj, down_proj]
              feedforward_modules: [down_proj]
            training:
              max_steps: 2
              batch_size: 4
              threads: 2
            output:
              dir: out-ia3
            """);
        var (code, output) = CliRunner.Run("run", recipe);
        Assert.True(code == 0, output);
        string adapter = Path.Combine(_folder.Directory, "out-ia3");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")))!;
        Assert.Equal("IA3", (string?)config["peft_type"]);
        Assert.Contains("down_proj", (string?)config["feedforward_modules"]);

        var (inspectCode, inspect) = CliRunner.Run("inspect", adapter);
        Assert.Equal(0, inspectCode);
        Assert.Contains("IA3 (feed-forward:", inspect);
        // 4 layers × (k 128 + v 128 out, down_proj 688 in).
        Assert.Contains((4 * (128 + 128 + 688)).ToString("N0", System.Globalization.CultureInfo.InvariantCulture), inspect);
    }

    [Fact]
    public void IaThreeSettingsUnderLoraAreAnErrorNamingTheKey()
    {
        string recipe = _folder.Write("bad.yaml", """
            name: bad
            base_model: builtin:tiny-llama
            data:
              train: data.jsonl
            ia3:
              target_modules: [k_proj]
            """);
        var (code, output) = CliRunner.Run("validate", recipe);
        Assert.NotEqual(0, code);
        Assert.Contains("bad.yaml(6,", output);
        Assert.Contains("ia3.target_modules is an IA3 setting; method is lora", output);
    }
}
