using System.Globalization;
using System.Text.Json.Nodes;

namespace LoraRecipes.Cli.Tests.Commands;

public sealed class CommandTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void ValidateAcceptsAGoodRecipe()
    {
        var (code, output) = CliRunner.Run("validate", _folder.Recipe);
        Assert.Equal(0, code);
        Assert.Contains("ok (12 records", output);
    }

    [Fact]
    public void ValidateReportsEveryErrorWithFileLineAndColumnAndExitsOne()
    {
        string bad = _folder.Write("bad.yaml", "name: bad\nbase_model: builtin:tiny-llama\ndata:\n  train: data.jsonl\nlora:\n  rank: 8\n  dropout: 2\n");
        var (code, output) = CliRunner.Run("validate", bad);
        Assert.Equal(1, code);
        Assert.Contains("bad.yaml(6,3): error LORA010", output);
        Assert.Contains("'r'", output);
        Assert.Contains("bad.yaml(7,12): error LORA013", output);
    }

    [Fact]
    public void ValidateNamesTheBadDataRecord()
    {
        File.AppendAllText(Path.Combine(_folder.Directory, "data.jsonl"), "{\"instruction\": \"x\", \"output\": 3}\n");
        var (code, output) = CliRunner.Run("validate", _folder.Recipe);
        Assert.Equal(1, code);
        Assert.Contains("data.jsonl(13,1): error LORA100: record 13: \"output\" must be a string", output);
    }

    [Fact]
    public void UsageErrorsExitTwo()
    {
        Assert.Equal(2, CliRunner.Run("run").ExitCode);
        Assert.Equal(2, CliRunner.Run("run", _folder.Recipe, "--no-such-option").ExitCode);
        Assert.Equal(2, CliRunner.Run("frobnicate").ExitCode);
    }

    [Fact]
    public void EveryCommandHasHelp()
    {
        foreach (string verb in new[] { "run", "validate", "plan", "eval", "doctor" })
        {
            var (code, output) = CliRunner.Run(verb, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Usage:", output);
        }
    }

    [Fact]
    public void RunTrainsAndEvalScoresTheAdapterAsTheLastJsonLine()
    {
        var (code, output) = CliRunner.Run("run", _folder.Recipe, "--set", "training.max_steps=3");
        Assert.True(code == 0, output);
        Assert.Contains("validation loss:", output);
        string adapter = Path.Combine(_folder.Directory, "out");
        Assert.True(File.Exists(Path.Combine(adapter, "adapter_model.safetensors")));

        string text = _folder.Write("eval.txt", "Answer number 1.\nAnswer number 2.\n");
        var (evalCode, evalOutput) = CliRunner.Run("eval", "--adapter", adapter, "--data", text, "--json");
        Assert.Equal(0, evalCode);
        var json = JsonNode.Parse(evalOutput.TrimEnd().Split('\n')[^1])!.AsObject();
        Assert.InRange((double)json["loss"]!, 0.1, 20);
        Assert.Equal(Math.Exp((double)json["loss"]!), (double)json["perplexity"]!, 6);
        Assert.True((int)json["tokens"]! > 4);
    }

    [Fact]
    public void RunWithADivergingLearningRateExitsThree()
    {
        var (code, output) = CliRunner.Run("run", _folder.Recipe, "--set", "training.learning_rate=1e30", "--set", "training.max_grad_norm=1e30", "--set", "training.max_steps=6");
        Assert.Equal(3, code);
        Assert.Contains("step", output);
    }

    [Fact]
    public void PlanShowsTrainableParametersAndFingerprint()
    {
        var (code, output) = CliRunner.Run("plan", _folder.Recipe);
        Assert.Equal(0, code);
        // r = 2 on q (256→256) and v (256→128) in 4 layers: 4 · 2 · (256 + 256 + 256 + 128).
        string expected = (4 * 2 * (256 + 256 + 256 + 128)).ToString("N0", CultureInfo.InvariantCulture);
        Assert.Contains($"trainable params: {expected} ||", output);
        Assert.Matches("fingerprint: [0-9a-f]{64}", output);
    }

    [Fact]
    public void DoctorReportsTheBackend()
    {
        var (code, output) = CliRunner.Run("doctor");
        Assert.Equal(0, code);
        Assert.Contains("libtorch", output);
        Assert.Contains("GLIBCXX compatibility fix", output);
        Assert.Contains("libtorch works.", output);
    }
}
