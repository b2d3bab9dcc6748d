using LoraRecipes.Cli.Commands;

namespace LoraRecipes.Cli.Tests.Commands;

public sealed class RunResumeCommandTests
{
    [Fact]
    public void TheResumeHintRepeatsTheRunsArgumentsQuotedForAShell()
    {
        Assert.Equal("dotnet lora run recipes/medical.yaml --resume", RunCommand.ResumeCommand("recipes/medical.yaml", null, null, null));
        Assert.Equal("dotnet lora run 'my recipe.yaml' --set lora.r=8 --set 'evaluation.samples=[\"a b\"]' --output 'out dir' --device cpu --resume",
            RunCommand.ResumeCommand("my recipe.yaml", ["lora.r=8", "evaluation.samples=[\"a b\"]"], "out dir", "cpu"));
        Assert.Equal("dotnet lora run 'it'\\''s.yaml' --resume", RunCommand.ResumeCommand("it's.yaml", [], null, null));
    }

    [Fact]
    public void RunHelpDocumentsResumeAndForce()
    {
        var (code, output) = CliRunner.Run("run", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--resume", output);
        Assert.Contains("--force", output);
    }
}
