using LoraRecipes.Cli.Commands;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Training;
using Spectre.Console.Testing;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>Every exception type the core declares maps to a message and an exit code (no stack trace).</summary>
public sealed class FailuresTests
{
    /// <summary>Core exception types with their own handling: TrainingException carries an exit code; run reports an interruption's checkpoint.</summary>
    private static readonly Type[] HandledElsewhere = [typeof(TrainingException), typeof(TrainingInterruptedException)];

    [Fact]
    public void EveryCoreExceptionTypeIsMapped()
    {
        var declared = typeof(ModelConfig).Assembly.GetTypes()
            .Where(t => typeof(Exception).IsAssignableFrom(t) && !t.IsAbstract && (t.IsPublic || t.IsNestedPublic))
            .ToList();
        Assert.Contains(typeof(PickledCheckpointException), declared);   // the enumeration sees the types it must
        var unmapped = declared.Except(HandledElsewhere).Where(t => !Failures.UserInputFailures.Any(u => u.IsAssignableFrom(t))).Select(t => t.FullName).ToList();
        Assert.True(unmapped.Count == 0, "not mapped in Failures.UserInputFailures: " + string.Join(", ", unmapped));
    }

    [Fact]
    public void APickledCheckpointIsOneLineAndExitCodeOne()
    {
        var console = new TestConsole();
        console.Profile.Width = 4000;
        int code = Failures.Guard(console, () => throw new PickledCheckpointException("/models/x", ["pytorch_model.bin"]));
        Assert.Equal(ExitCodes.InvalidInput, code);
        Assert.StartsWith("error: '/models/x' has no safetensors weights", console.Output.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", console.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelFolderWithOnlyPytorchModelBinIsRefusedWithTheConversionCommand()
    {
        string dir = Directory.CreateTempSubdirectory("lora-pickle-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), """
                {"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
                 "num_attention_heads": 4, "max_position_embeddings": 64}
                """);
            File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), [0x80, 0x02]);
            File.WriteAllText(Path.Combine(dir, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\n");   // a tokenizer, so loading reaches the weights
            File.WriteAllText(Path.Combine(dir, "data.jsonl"), "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\", \"output\": \"d\"}\n");
            File.WriteAllText(Path.Combine(dir, "r.yaml"), "name: p\nbase_model: .\ndata:\n  train: data.jsonl\n  validation_split: 0\n");
            var (code, output) = CliRunner.Run("plan", Path.Combine(dir, "r.yaml"));
            Assert.Equal(1, code);
            string flat = string.Join(" ", output.Split('\n').Select(l => l.Trim()));   // the console wraps long lines
            Assert.Contains("only pickled PyTorch files (pytorch_model.bin)", flat, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(FailureKind.InvalidInput, 1)]
    [InlineData(FailureKind.TrainingFailed, 3)]
    [InlineData(FailureKind.Interrupted, 130)]
    public void EachFailureKindKeepsTheExitCodeUsersSee(FailureKind kind, int exitCode)
    {
        Assert.Equal(exitCode, Failures.ExitCodeFor(kind));
        var console = new Spectre.Console.Testing.TestConsole();
        Assert.Equal(exitCode, Failures.Guard(console, () => throw new TrainingException("boom", kind)));
        Assert.Contains("error: boom", console.Output);
    }
}
