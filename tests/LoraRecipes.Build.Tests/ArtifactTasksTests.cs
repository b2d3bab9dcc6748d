using System.Collections;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraRecipes.Build.Tests;

/// <summary>The build reads artifact folders through the recipe library's contract (ArtifactFiles, LoraManifest); the names are spelled out here, independently.</summary>
public sealed class ArtifactTasksTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lora-artifact-tasks-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void CleanDeletesExactlyTheContractsFilesOfEachCustomFolder()
    {
        var task = new LoraArtifactFiles { BuildEngine = new FakeEngine(), Folders = [new TaskItem(Path.Combine(_root, "a") + "/"), new TaskItem(Path.Combine(_root, "b"))] };
        Assert.True(task.Execute());
        var expected = new[] { "a", "b" }.SelectMany(f => new[]
            { "adapter_config.json", "adapter_model.safetensors", "recipe.resolved.yaml", "metrics.jsonl", "loss.png", "lora-manifest.json" }
            .Select(n => Path.Combine(_root, f, n)));
        Assert.Equal(expected, task.Files.Select(f => f.ItemSpec));
    }

    [Fact]
    public void CollectedAdaptersCarryTheManifestsFingerprintStepsAndMeasuredMetrics()
    {
        string folder = Path.Combine(_root, "out") + Path.DirectorySeparatorChar;
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "adapter_model.safetensors"), "x");
        File.WriteAllText(Path.Combine(folder, "lora-manifest.json"), """
            {"format_version": 1, "fingerprint": "abc", "steps": 6,
             "metrics": {"final_validation_loss": 1.5, "final_validation_perplexity": null}}
            """);
        var plan = new TaskItem("tiny.yaml");
        plan.SetMetadata("OutputDir", folder);
        plan.SetMetadata("ArtifactName", "tiny");
        plan.SetMetadata("Fingerprint", "abc");
        var task = new LoraCollectAdapters { BuildEngine = new FakeEngine(), Plans = [plan] };
        Assert.True(task.Execute());

        var adapter = Assert.Single(task.Adapters);
        Assert.Equal(("abc", "true", "6", "1.5"), (adapter.GetMetadata("Fingerprint"), adapter.GetMetadata("UpToDate"), adapter.GetMetadata("Steps"), adapter.GetMetadata("final_validation_loss")));
        Assert.Equal("", adapter.GetMetadata("final_validation_perplexity"));   // not measured: no metadata
        Assert.Equal(["lora/tiny/adapter_model.safetensors", "lora/tiny/lora-manifest.json"], task.Files.Select(f => f.GetMetadata("TargetPath").Replace('\\', '/')));
    }

    private sealed class FakeEngine : IBuildEngine
    {
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "test.csproj";
        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => false;
        public void LogCustomEvent(CustomBuildEventArgs e) { }
        public void LogErrorEvent(BuildErrorEventArgs e) => throw new InvalidOperationException(e.Message);
        public void LogMessageEvent(BuildMessageEventArgs e) { }
        public void LogWarningEvent(BuildWarningEventArgs e) { }
    }
}
