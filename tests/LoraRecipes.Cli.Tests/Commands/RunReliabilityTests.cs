using System.Security.Cryptography;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>A recipe, its data and the adapter of one uninterrupted <c>dotnet lora run</c> (a child process), shared by the tests.</summary>
public sealed class ReferenceRun : IDisposable
{
    /// <summary>Set in the reference run's environment; it must appear nowhere in its output or artifacts.</summary>
    public const string Secret = "hf_ThisIsNotARealTokenButMustNeverLeak0123456789";

    public ReferenceRun()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("lora-reliability-").FullName;
        var lines = Enumerable.Range(0, 24).Select(i => i % 2 == 0
            ? $"{{\"instruction\": \"介绍疾病\", \"input\": \"问题 {i}：什么是高血压\", \"output\": \"高血压是血压长期高于正常。第 {i} 条。\"}}"
            : $"{{\"instruction\": \"Explain the condition\", \"input\": \"Question {i}: what is asthma\", \"output\": \"Asthma narrows the airways. Item {i}.\"}}");
        File.WriteAllLines(Path.Combine(Directory, "data.jsonl"), lines);
        // 18 train examples / batch 4 = 5 steps an epoch, 3 epochs; dropout on so the RNG state matters.
        File.WriteAllText(Path.Combine(Directory, "tiny.yaml"), """
            name: tiny
            base_model: builtin:tiny-llama
            data:
              train: data.jsonl
              validation_split: 0.25
              max_length: 160
            lora:
              r: 4
              alpha: 8
              dropout: 0.1
              target_modules: [q_proj, v_proj]
            training:
              epochs: 3
              batch_size: 4
              learning_rate: 1e-2
              warmup_ratio: 0.1
              threads: 1
              checkpoint_every: 2
            evaluation:
              every: epoch
            output:
              dir: out
            """);
        using var run = RunProcess.Start(Directory, new Dictionary<string, string> { ["HF_TOKEN"] = Secret }, "run", "tiny.yaml", "-o", "reference");
        ExitCode = run.WaitForExit();
        Output = run.Output;
        Assert.True(ExitCode == 0, Output);
        AdapterHash = Hash(Path.Combine(Directory, "reference", "adapter_model.safetensors"));
    }

    public string Directory { get; }
    public int ExitCode { get; }
    public string Output { get; }
    public string AdapterHash { get; }

    public static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>The real tool, killed, interrupted and starved, must still end with the reference adapter bytes or a clear error.</summary>
public sealed class RunReliabilityTests(ReferenceRun reference) : IClassFixture<ReferenceRun>
{
    private string Adapter(string output) => ReferenceRun.Hash(Path.Combine(reference.Directory, output, "adapter_model.safetensors"));

    private RunProcess Run(params string[] args) => RunProcess.Start(reference.Directory, null, ["run", "tiny.yaml", .. args]);

    [Fact]
    public void SigkillAtSeveralPointsThenResumeGivesTheUninterruptedAdapterBytes()
    {
        // Killed: right after checkpoint 2; between checkpoints (after step 9, checkpoint 8 the newest);
        // after the last checkpoint, during the final evaluation or artifact writing.
        foreach (string killWhen in new[] { "checkpoint @ step 2:", "step 9/15", "checkpoint @ step 15:" })
        {
            using var run = Run("-o", "killed", "--resume");
            run.WaitFor(killWhen);
            run.KillHard();
        }
        using var last = Run("-o", "killed", "--resume");
        Assert.True(last.WaitForExit() == 0, last.Output);
        Assert.Contains("resuming at step 15/15", last.Output);
        Assert.Equal(reference.AdapterHash, Adapter("killed"));
        // Whatever the kills interrupted (a staging folder, a checkpoint's temp folder) has been cleaned up; the training
        // lock file stays by design (ArtifactFiles.Lock), released by the kernel with each killed process.
        Assert.Empty(System.IO.Directory.GetFileSystemEntries(Path.Combine(reference.Directory, "killed"), ".*", SearchOption.AllDirectories)
            .Where(p => Path.GetFileName(p) != Recipes.Artifacts.ArtifactFiles.Lock));
    }

    [Theory]
    [InlineData(RunProcess.SIGINT, "step 3/15")]
    [InlineData(RunProcess.SIGTERM, "step 6/15")]
    public void ASignalStopsAtAStepBoundaryWithACheckpointAndExit130(int signal, string when)
    {
        string output = "signal-" + signal;
        using (var run = Run("-o", output))
        {
            run.WaitFor(when);
            run.Signal(signal);
            Assert.Equal(130, run.WaitForExit());
            Assert.Contains("stopping after the current step", run.Output);
            Assert.Matches(@"interrupted at step \d+; the training state is saved in .*checkpoints/step-\d{8}", run.Output);
            Assert.Contains($"continue with: dotnet lora run tiny.yaml --output {output} --resume", run.Output);
        }
        using var resumed = Run("-o", output, "--resume");
        Assert.True(resumed.WaitForExit() == 0, resumed.Output);
        Assert.Equal(reference.AdapterHash, Adapter(output));
    }

    [Fact]
    public void ASecondCtrlCAbortsAtOnceAndLeavesNothingTorn()
    {
        using (var run = Run("-o", "double"))
        {
            run.WaitFor("step 4/15");
            run.Signal(RunProcess.SIGINT);
            run.Signal(RunProcess.SIGINT);
            Assert.Equal(130, run.WaitForExit());
        }
        using var resumed = Run("-o", "double", "--resume");
        Assert.True(resumed.WaitForExit() == 0, resumed.Output);
        Assert.Equal(reference.AdapterHash, Adapter("double"));
    }

    [Fact]
    public void AFullDiskWhileSavingLeavesThePreviousArtifactAndCheckpointsIntact()
    {
        // Start from a finished run: artifacts plus the checkpoint of its last step.
        string dir = Path.Combine(reference.Directory, "full");
        CopyTree(Path.Combine(reference.Directory, "reference"), dir);
        var before = Snapshot(dir);

        // Resuming from the final checkpoint rewrites only the artifacts; 32 KiB is less than the 57 KiB adapter.
        using (var run = RunProcess.StartWithFileSizeLimit(reference.Directory, 32, "run", "tiny.yaml", "-o", "full", "--resume"))
        {
            Assert.Equal(3, run.WaitForExit());
            Assert.Contains("could not write the artifacts", run.Output);
            Assert.Contains("Files already there are untouched", run.Output);
            Assert.DoesNotContain("   at ", run.Output);   // no stack trace
        }
        Assert.Equal(before, Snapshot(dir));

        // A fresh run whose first checkpoint (≈190 KiB) cannot be written keeps the earlier run's checkpoints and artifacts.
        using (var run = RunProcess.StartWithFileSizeLimit(reference.Directory, 100, "run", "tiny.yaml", "-o", "full"))
        {
            Assert.Equal(3, run.WaitForExit());
            Assert.Contains("could not write the checkpoint of step 2", run.Output);
        }
        Assert.Equal(before, Snapshot(dir));
    }

    [Fact]
    public void HfTokenNeverAppearsInOutputArtifactsOrErrors()
    {
        Assert.DoesNotContain(ReferenceRun.Secret, reference.Output);
        foreach (string file in System.IO.Directory.GetFiles(Path.Combine(reference.Directory, "reference"), "*", SearchOption.AllDirectories))
            Assert.False(File.ReadAllText(file).Contains(ReferenceRun.Secret, StringComparison.Ordinal), file);

        // A hub id (the path where a token would be used) fails with a message that does not carry it.
        File.WriteAllText(Path.Combine(reference.Directory, "hub.yaml"), File.ReadAllText(Path.Combine(reference.Directory, "tiny.yaml"))
            .Replace("builtin:tiny-llama", "some-org/some-model", StringComparison.Ordinal));
        // Never the real hub: the endpoint is a closed loopback port and the cache an empty folder, so the token can only
        // travel to 127.0.0.1 (where nothing listens) and the run fails on the connection.
        var env = new Dictionary<string, string>
        {
            ["HF_TOKEN"] = ReferenceRun.Secret, ["HF_ENDPOINT"] = "http://127.0.0.1:9",
            ["HF_HUB_CACHE"] = Path.Combine(reference.Directory, "empty-hub-cache"),
        };
        using var run = RunProcess.Start(reference.Directory, env, "run", "hub.yaml", "-o", "hub");
        Assert.NotEqual(0, run.WaitForExit());
        Assert.DoesNotContain(ReferenceRun.Secret, run.Output);
    }

    /// <summary>Every file under a folder (checkpoints included) with its hash; temp and staging leftovers would show up too.</summary>
    private static SortedDictionary<string, string> Snapshot(string dir) => new(
        System.IO.Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(p => Path.GetRelativePath(dir, p), p => File.Exists(p) ? ReferenceRun.Hash(p) : "dir"), StringComparer.Ordinal);

    private static void CopyTree(string from, string to)
    {
        foreach (string d in System.IO.Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            System.IO.Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, d)));
        System.IO.Directory.CreateDirectory(to);
        foreach (string f in System.IO.Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(f, Path.Combine(to, Path.GetRelativePath(from, f)));
    }
}
