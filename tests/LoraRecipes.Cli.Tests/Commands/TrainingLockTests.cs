using System.Diagnostics;
using System.Text.Json.Nodes;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>
/// Real <c>dotnet-lora run</c> processes training into one artifact folder: one trains, the others wait for it (naming
/// it), then reuse its adapter; a killed holder frees the folder at once. Holders are paused with SIGSTOP where a test
/// needs a waiter to meet them, so no outcome depends on timing. Linux signals: skipped elsewhere.
/// </summary>
public sealed class TrainingLockTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Output(string name) => Path.Combine(_folder.Directory, name);

    private RunProcess Run(string output, IReadOnlyDictionary<string, string>? environment = null, params string[] extra) =>
        RunProcess.Start(_folder.Directory, environment, ["run", "tiny.yaml", "-o", output, .. extra]);

    /// <summary>Waits until the lock file of <paramref name="output"/> names <paramref name="run"/> as its holder.</summary>
    private static void WaitUntilHolding(RunProcess run, string output)
    {
        string path = Path.Combine(output, ArtifactFiles.Lock);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
                if (JsonNode.Parse(reader.ReadToEnd()) is { } holder && (int?)holder["pid"] == run.Id) return;
            }
            catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException)
            {
                // not there yet, or being written
            }
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the run never took the lock:\n" + run.Output);
            Thread.Sleep(10);
        }
    }

    [Fact]
    public void AWaiterNamesTheHolderWaitsThenReusesItsAdapterAndAnImpatientOneGivesUp()
    {
        if (!OperatingSystem.IsLinux()) return;
        string output = Output("shared");
        using var holder = Run(output);
        WaitUntilHolding(holder, output);
        holder.Signal(RunProcess.SIGSTOP);   // paused while holding the lock: whoever comes now must wait

        using (var impatient = Run(output, new Dictionary<string, string> { [ArtifactLockTimeoutException.TimeoutVariable] = "0" }))
        {
            Assert.Equal(1, impatient.WaitForExit());
            Assert.Contains($"process {holder.Id} (dotnet-lora run tiny.yaml -o {output})", impatient.Output);
            Assert.Contains($"{ArtifactLockTimeoutException.TimeoutVariable} (seconds)", impatient.Output);
        }

        using var waiter = Run(output);
        waiter.WaitFor($"waiting for process {holder.Id} (dotnet-lora run tiny.yaml -o {output}) which is training into {output}");
        holder.Signal(RunProcess.SIGCONT);
        Assert.True(holder.WaitForExit() == 0, holder.Output);
        Assert.True(waiter.WaitForExit() == 0, waiter.Output);

        Assert.DoesNotContain("reused", holder.Output);
        Assert.Contains($"just trained by process {holder.Id}", waiter.Output);
        Assert.Contains("reused, nothing to train", waiter.Output);
        var (code, verified) = CliRunner.Run("verify", output);
        Assert.True(code == 0, verified);
    }

    [Fact]
    public void TwoRunsStartedAtOnceWithIfStaleTrainOnce()
    {
        if (!OperatingSystem.IsLinux()) return;
        string output = Output("both");
        // --if-stale, as MSBuild passes it: whichever comes second reuses, whether it waited or came after.
        using var first = Run(output, null, "--if-stale");
        using var second = Run(output, null, "--if-stale");
        Assert.True(first.WaitForExit() == 0, first.Output);
        Assert.True(second.WaitForExit() == 0, second.Output);

        var reused = new[] { first, second }.Where(r => r.Output.Contains("reused, nothing to train", StringComparison.Ordinal)).ToList();
        Assert.True(reused.Count == 1, $"first:\n{first.Output}\nsecond:\n{second.Output}");
        var trained = reused[0] == first ? second : first;
        Assert.DoesNotContain("waiting for", trained.Output);
        var (code, verified) = CliRunner.Run("verify", output);
        Assert.True(code == 0, verified);
        Assert.Equal(LoraManifest.CurrentFormatVersion, LoraManifest.TryRead(output)!.FormatVersion);
    }

    [Fact]
    public void AKilledHolderFreesTheFolderAtOnce()
    {
        if (!OperatingSystem.IsLinux()) return;
        string output = Output("killed");
        using (var holder = Run(output))
        {
            WaitUntilHolding(holder, output);
            holder.KillHard();
        }
        // The kernel dropped the dead process's lock: free now, no wait.
        Assert.True(ArtifactLock.TryAcquire(output, out var probe, out var other), $"still held by {other}");
        probe!.Dispose();
        var (code, log) = CliRunner.Run("run", _folder.Recipe, "-o", output);
        Assert.True(code == 0, log);
        Assert.DoesNotContain("waiting for", log);
        (code, log) = CliRunner.Run("verify", output);
        Assert.True(code == 0, log);
    }
}
