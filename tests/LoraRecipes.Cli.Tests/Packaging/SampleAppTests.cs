using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Xunit.Abstractions;

namespace LoraRecipes.Cli.Tests.Packaging;

/// <summary>
/// samples/MedicalAssistant as the README runs it, with a short training override (<c>-p:LoraOverrides=…</c>) to stay
/// within the test budget: the build trains recipes/medical.yaml (name: medical-qa) into lora/medical-qa/ beside the
/// app, and the app answers. The sample builds against the solution's own outputs (--no-dependencies: the test run
/// built them), so nothing of src/ is rebuilt while other tests use it.
/// </summary>
public sealed class SampleAppTests(ITestOutputHelper log)
{
    [Fact]
    public void MedicalAssistant_trains_at_build_and_answers()
    {
        var clock = Stopwatch.StartNew();
        string repo = PackagedFeed.FindRepoRoot();
        string configuration = typeof(SampleAppTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        string project = Path.Combine(repo, "samples", "MedicalAssistant");
        var build = PackagedFeed.Run("dotnet", ["build", project, "-c", configuration, "--no-dependencies", "-p:LoraOverrides=training.max_steps=2",
            "-nologo", "-tl:off", "-nodeReuse:false"], repo, new Dictionary<string, string?> { ["DOTNET_CLI_UI_LANGUAGE"] = "en" }, lowPriority: true);
        Assert.True(build.ExitCode == 0, build.Output);
        // Trained now, or up to date from an earlier run of this test with the same override.
        Assert.Matches("medical.yaml: (training adapter into|adapter up to date)", build.Output);

        string output = Path.Combine(project, "bin", configuration, "net10.0");
        string adapter = Path.Combine(output, "lora", "medical-qa");   // the recipe's name, not its file name (medical.yaml)
        Assert.True(File.Exists(Path.Combine(adapter, "adapter_model.safetensors")), build.Output);
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "lora-manifest.json"))))
            Assert.Equal(2, manifest.RootElement.GetProperty("steps").GetInt32());

        var run = PackagedFeed.Run("dotnet", [Path.Combine(output, "MedicalAssistant.dll"), "What is hypertension?"], project);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("Q: What is hypertension?", run.Output);
        Assert.Contains("A: ", run.Output);
        log.WriteLine($"first run, samples/MedicalAssistant (build with 2 training steps, run): {clock.Elapsed.TotalSeconds:F0} s");
    }
}
