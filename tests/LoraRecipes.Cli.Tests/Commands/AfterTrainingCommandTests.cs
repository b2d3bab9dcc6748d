using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Models;
using Spectre.Console.Testing;
using static TorchSharp.torch;

namespace LoraRecipes.Cli.Tests.Commands;

[Collection(TrainedAdapterCollection.Name)]
public sealed class AfterTrainingCommandTests(TrainedAdapterFixture fixture)
{
    [Fact]
    public void GenerateWritesACompletion()
    {
        var (code, output) = CliRunner.Run("generate", fixture.Adapter, "--prompt", "Explain item 3", "--max-new-tokens", "6");
        Assert.True(code == 0, output);
        Assert.NotEmpty(output.Trim());
        // Greedy decoding is deterministic; sampling with a fixed seed too.
        Assert.Equal(output, CliRunner.Run("generate", fixture.Adapter, "--prompt", "Explain item 3", "--max-new-tokens", "6").Output);
        var sampled = CliRunner.Run("generate", fixture.Adapter, "-p", "Explain", "--no-template", "--temperature", "0.8", "--top-p", "0.9", "--seed", "7", "--max-new-tokens", "6");
        Assert.Equal(0, sampled.ExitCode);
        Assert.Equal(sampled.Output, CliRunner.Run("generate", fixture.Adapter, "-p", "Explain", "--no-template", "--temperature", "0.8", "--top-p", "0.9", "--seed", "7", "--max-new-tokens", "6").Output);
    }

    [Fact]
    public void GenerateRejectsBadDecodingOptions()
    {
        Assert.Equal(2, CliRunner.Run("generate", fixture.Adapter, "-p", "x", "--top-p", "0").ExitCode);
        Assert.Equal(2, CliRunner.Run("generate", fixture.Adapter).ExitCode);   // --prompt is required
        var (code, output) = CliRunner.Run("generate", Path.Combine(fixture.Recipe.Directory, "nope"), "-p", "x");
        Assert.Equal(1, code);
        Assert.Contains("no such folder", output);
    }

    [Fact]
    public void ChatAnswersEachLineUntilExit()
    {
        var console = new TestConsole().Width(200);
        var input = new StringReader("Explain item 1\n\n/reset\nExplain item 2\n/exit\nnever read\n");
        int code = LoraCli.Run(["chat", fixture.Adapter, "--max-new-tokens", "4"], console, input: input);
        Assert.Equal(0, code);
        Assert.StartsWith("chat with", console.Output);
        Assert.Contains("(history cleared)", console.Output);
        Assert.Equal("never read", input.ReadLine());
    }

    [Fact]
    public void MergedCheckpointReloadsWithTheSameLogitsAsBasePlusAdapter()
    {
        string merged = Path.Combine(fixture.Recipe.Directory, "merged");
        var (code, output) = CliRunner.Run("merge", fixture.Adapter, "--output", merged);
        Assert.True(code == 0, output);
        foreach (string file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(merged, file)), file);
        Assert.Equal(1, CliRunner.Run("merge", fixture.Adapter, "--output", merged).ExitCode);   // not empty, no --force

        using var ids = tensor(new long[] { 1, 17, 42, 300, 5, 9, 1000, 77 }, new long[] { 1, 8 }, ScalarType.Int64);
        using var basePlusAdapter = ModelLoader.Load(BuiltinModels.Materialize("tiny-llama"));
        using var plainBase = ModelLoader.Load(BuiltinModels.Materialize("tiny-llama"));
        AdapterLoader.Apply(basePlusAdapter.Module, fixture.Adapter);   // unmerged: W x + s·B(A x)
        using var reloaded = ModelLoader.Load(merged);                   // merged: (W + s·B A) x
        using var guard = no_grad();
        using var expected = basePlusAdapter.Module.forward(ids);
        using var actual = reloaded.Module.forward(ids);
        using var baseline = plainBase.Module.forward(ids);
        double mergeError = (actual - expected).abs().max().item<float>();
        double adapterEffect = (expected - baseline).abs().max().item<float>();
        Assert.True(mergeError < 1e-4, $"merged vs base+adapter differ by {mergeError}");
        Assert.True(adapterEffect > 100 * mergeError && adapterEffect > 1e-3, $"the adapter changes logits by only {adapterEffect}: the test would not see a wrong merge");

        // The merged folder is a base model like any other.
        var plan = CliRunner.Run("plan", fixture.Recipe.Recipe, "--set", $"base_model={merged}");
        Assert.True(plan.ExitCode == 0, plan.Output);
    }

    [Fact]
    public void OnnxExportOfACausalLmAdapterIsRefusedByName()
    {
        string target = Path.Combine(fixture.Recipe.Directory, "causal.onnx");
        var (code, output) = CliRunner.Run("merge", fixture.Adapter, "--format", "onnx", "--out", target);
        Assert.Equal(1, code);
        Assert.Contains("task_type 'CAUSAL_LM' cannot be exported to ONNX", output);
        Assert.False(File.Exists(target));
        Assert.Equal(2, CliRunner.Run("merge", fixture.Adapter, "--format", "tflite", "--out", target).ExitCode);
    }

    [Fact]
    public void InspectShowsConfigParametersFingerprintAndMetrics()
    {
        var (code, output) = CliRunner.Run("inspect", fixture.Adapter);
        Assert.True(code == 0, output);
        Assert.Contains("builtin:tiny-llama", output);
        Assert.Contains("q_proj, v_proj", output);
        Assert.Contains("7,168", output);   // 4 layers · r 2 · ((256 + 256) + (256 + 128))
        string fingerprint = (string)JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.Adapter, "lora-manifest.json")))!["fingerprint"]!;
        Assert.Contains(fingerprint[..40], output);
        Assert.Contains("final validation loss", output);
    }

    [Fact]
    public void ArtifactHasALossPlotAndAReport()
    {
        byte[] png = File.ReadAllBytes(Path.Combine(fixture.Adapter, "loss.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        var curves = LossCurves.FromJsonLines(Path.Combine(fixture.Adapter, "metrics.jsonl"));
        Assert.Equal([1, 2], curves.Train.Select(p => p.Step));
        Assert.Equal([0, 1, 2], curves.Validation.Select(p => p.Step));

        string html = Path.Combine(fixture.Recipe.Directory, "report.html");
        var (code, output) = CliRunner.Run("report", fixture.Adapter, "-o", html);
        Assert.True(code == 0, output);
        string text = File.ReadAllText(html);
        Assert.Contains("data:image/png;base64,iVBORw0KGgo", text);
        Assert.Contains("Sample generations", text);
        Assert.Contains("Explain item 1", text);
        Assert.Contains("recipe.resolved.yaml", text);
        Assert.DoesNotContain("<script", text);
        Assert.DoesNotContain("src=\"http", text);
    }

    [Fact]
    public void EvalComputesGenerationMetricsAsJson()
    {
        string data = Path.Combine(fixture.Recipe.Directory, "data.jsonl");
        var (code, output) = CliRunner.Run("eval", "--adapter", fixture.Adapter, "--data", data, "--metrics", "loss,exact_match,bleu,rouge_l", "--max-new-tokens", "4", "--json");
        Assert.True(code == 0, output);
        var json = JsonNode.Parse(output.TrimEnd().Split('\n')[^1])!.AsObject();
        Assert.Equal(12, (int)json["records"]!);
        Assert.InRange((double)json["exact_match"]!, 0, 1);
        Assert.InRange((double)json["bleu"]!, 0, 100);
        Assert.InRange((double)json["rouge_l"]!, 0, 1);
        Assert.True((double)json["loss"]! > 0);
        Assert.Equal(2, CliRunner.Run("eval", "--adapter", fixture.Adapter, "--data", data, "--metrics", "meteor").ExitCode);
    }
}
