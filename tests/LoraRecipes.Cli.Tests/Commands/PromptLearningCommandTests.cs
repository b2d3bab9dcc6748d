namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>Recipe validation for <c>method: prompt_tuning</c> / <c>p_tuning</c> / <c>prefix_tuning</c>: errors name file, line and column.</summary>
public sealed class PromptLearningCommandTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void TextInitWithoutTextPackingAndKeysOfAnotherMethodAreErrorsWithPositions()
    {
        string recipe = _folder.Write("prompt.yaml", """
            name: prompt
            base_model: builtin:tiny-llama
            method: prompt_tuning
            data:
              train: data.jsonl
              packing: true
            prompt_tuning:
              init: text
            p_tuning:
              encoder: lstm
            """);
        var (code, output) = CliRunner.Run("validate", recipe);
        Assert.NotEqual(0, code);
        Assert.Contains("prompt.yaml(8,", output);
        Assert.Contains("prompt_tuning.init is text but prompt_tuning.init_text is not set", output);
        Assert.Contains("prompt.yaml(6,", output);
        Assert.Contains("data.packing cannot be used with method prompt_tuning", output);
        Assert.Contains("prompt.yaml(10,", output);
        Assert.Contains("p_tuning.encoder is a p-tuning setting; method is prompt_tuning", output);
    }

    [Fact]
    public void MlpIgnoresTheLstmSettingsWithAWarning()
    {
        string recipe = _folder.Write("mlp.yaml", """
            name: mlp
            base_model: builtin:tiny-llama
            method: p_tuning
            data:
              train: data.jsonl
            p_tuning:
              encoder_num_layers: 3
            """);
        var (code, output) = CliRunner.Run("validate", recipe);
        Assert.True(code == 0, output);
        Assert.Contains("mlp.yaml(7,", output);
        Assert.Contains("p_tuning.encoder_num_layers has no effect with encoder: mlp", output);
    }

    [Fact]
    public void PrefixTuningRefusesPackingAndWarnsOnAnUnusedProjectionWidth()
    {
        string recipe = _folder.Write("prefix.yaml", """
            name: prefix
            base_model: builtin:tiny-llama
            method: prefix_tuning
            data:
              train: data.jsonl
              packing: true
            prefix_tuning:
              encoder_hidden_size: 64
            p_tuning:
              encoder: lstm
            """);
        var (code, output) = CliRunner.Run("validate", recipe);
        Assert.NotEqual(0, code);
        Assert.Contains("prefix.yaml(6,", output);
        Assert.Contains("data.packing cannot be used with method prefix_tuning", output);
        Assert.Contains("prefix.yaml(8,", output);
        Assert.Contains("prefix_tuning.encoder_hidden_size has no effect without prefix_projection: true", output);
        Assert.Contains("prefix.yaml(10,", output);
        Assert.Contains("p_tuning.encoder is a p-tuning setting; method is prefix_tuning", output);
    }

    [Fact]
    public void AProjectedPrefixRunsEndToEndAndInspectTellsSavedFromTrainedParameters()
    {
        string recipe = _folder.Write("prefix-run.yaml", """
            name: prefix-run
            base_model: builtin:tiny-llama
            method: prefix_tuning
            data:
              train: data.jsonl
              validation_split: 0.25
              max_length: 128
            prefix_tuning:
              num_virtual_tokens: 4
              prefix_projection: true
              encoder_hidden_size: 16
            training:
              max_steps: 2
              batch_size: 4
              threads: 2
            output:
              dir: out-prefix
            """);
        var (code, output) = CliRunner.Run("run", recipe);
        Assert.True(code == 0, output);
        Assert.Contains("1 adapted module, ", output);
        var (inspectCode, inspect) = CliRunner.Run("inspect", Path.Combine(_folder.Directory, "out-prefix"));
        Assert.Equal(0, inspectCode);
        Assert.Contains("prefix tuning (trained through a projection MLP of width 16, saved projected", inspect);
        Assert.Contains("4 positions × 4 layers × key and value × token_dim 128 (4 key/value heads)", inspect);
        // Saved: the projected table, 4 × 4·2·128. Trained: embedding 4 × 128 + Linear(128 → 16) + Linear(16 → 1024).
        static string N(long v) => v.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Matches($@"saved parameters\s+│ {N(4 * 1024)}\s", inspect);
        Assert.Matches($@"trained parameters\s+│ {N(4 * 128 + (128 * 16 + 16) + (16 * 1024 + 1024))}\s", inspect);
    }
}
