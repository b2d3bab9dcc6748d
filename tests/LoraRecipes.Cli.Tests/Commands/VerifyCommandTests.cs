namespace LoraRecipes.Cli.Tests.Commands;

public sealed class VerifyCommandTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void VerifyPassesUntilAnInputChangesThenExitsOne()
    {
        var (trained, log) = CliRunner.Run("run", _folder.Recipe, "--set", "training.max_steps=1", "--set", "evaluation.every=never");
        Assert.True(trained == 0, log);
        string artifact = Path.Combine(_folder.Directory, "out");

        var (code, output) = CliRunner.Run("verify", artifact);
        Assert.True(code == 0, output);
        Assert.Contains("reproducible: all 1 inputs match", output);
        Assert.Contains("unchanged (same fingerprint)", output);

        File.AppendAllText(Path.Combine(_folder.Directory, "data.jsonl"), "{\"instruction\": \"x\", \"output\": \"y\"}\n");
        (code, output) = CliRunner.Run("verify", artifact);
        Assert.Equal(1, code);
        Assert.Contains("changed", output);
        Assert.Contains("not reproducible: 1 input(s)", output);

        File.Delete(Path.Combine(_folder.Directory, "data.jsonl"));
        (code, output) = CliRunner.Run("verify", artifact);
        Assert.Equal(1, code);
        Assert.Contains("missing", output);
    }

    [Fact]
    public void VerifyResolvesRelativeInputPathsAgainstTheArtifactFolder()
    {
        string artifact = Path.Combine(_folder.Directory, "moved");
        Directory.CreateDirectory(artifact);
        File.WriteAllText(Path.Combine(artifact, "data.txt"), "abc");
        // sha256("abc")
        File.WriteAllText(Path.Combine(artifact, "lora-manifest.json"), """
            {"format_version": 1, "fingerprint": "f", "inputs": [{"path": "data.txt", "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "bytes": 3}]}
            """);
        var (code, output) = CliRunner.Run("verify", artifact);
        Assert.True(code == 0, output);
        Assert.Contains("data.txt", output);
    }

    [Fact]
    public void VerifyWithoutAManifestIsAnError()
    {
        var (code, output) = CliRunner.Run("verify", _folder.Directory);
        Assert.Equal(1, code);
        Assert.Contains("artifact folder", output);
    }
}
