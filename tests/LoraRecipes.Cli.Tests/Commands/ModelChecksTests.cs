namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>validate and plan refuse, at the recipe's file(line,col), what run would refuse for the base model.</summary>
public sealed class ModelChecksTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-checks-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Recipe(string config, string extra = "")
    {
        Directory.CreateDirectory(Path.Combine(_dir, "model"));
        File.WriteAllText(Path.Combine(_dir, "model", "config.json"), config);
        File.WriteAllText(Path.Combine(_dir, "model", "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\n");
        File.WriteAllText(Path.Combine(_dir, "data.jsonl"), "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\", \"output\": \"d\"}\n");
        string path = Path.Combine(_dir, "r.yaml");
        File.WriteAllText(path, "name: checks\nbase_model: model\ndata:\n  train: data.jsonl\n" + extra);
        return path;
    }

    private const string Llama32 = """
        {"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
         "num_attention_heads": 4, "max_position_embeddings": 131072, "rope_theta": 500000.0,
         "rope_scaling": {"rope_type": "ROPE", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}
        """;

    [Theory]
    [InlineData("validate")]
    [InlineData("plan")]
    public void AnUnsupportedRopeTypeIsRefusedByNameAtBaseModel(string verb)
    {
        var (code, output) = CliRunner.Run(verb, Recipe(Llama32.Replace("ROPE", "longrope", StringComparison.Ordinal)));
        Assert.Equal(1, code);
        Assert.Contains("r.yaml(2,13): error LORA023: base_model cannot be loaded", output, StringComparison.Ordinal);
        Assert.Contains("rope_type 'longrope' is not supported", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Llama3RopeScalingValidates()
    {
        var (code, output) = CliRunner.Run("validate", Recipe(Llama32.Replace("ROPE", "llama3", StringComparison.Ordinal)));
        Assert.True(code == 0, output);
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("plan")]
    public void PackingOnGpt2IsRefusedAtTheKey(string verb)
    {
        string gpt2 = """{"model_type": "gpt2", "vocab_size": 64, "n_embd": 32, "n_layer": 1, "n_head": 4, "n_positions": 64}""";
        var (code, output) = CliRunner.Run(verb, Recipe(gpt2, "  packing: true\n"));
        Assert.Equal(1, code);
        Assert.Contains("r.yaml(5,12): error LORA023: data.packing: true is not supported for GPT-2", output, StringComparison.Ordinal);
    }
}
