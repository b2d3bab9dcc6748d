using System.Text.Json.Nodes;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Recipes.Tests.Artifacts;

/// <summary>The lock inside one process; tests/LoraRecipes.Cli.Tests/Commands/TrainingLockTests.cs runs real parallel processes.</summary>
public sealed class ArtifactLockTests : IDisposable
{
    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Folder => Path.Combine(_dir.Root, "out");

    [Fact]
    public void TheHolderIsRecordedAndASecondTakerIsToldWhoHoldsIt()
    {
        using (var held = ArtifactLock.Acquire(Folder, TimeSpan.Zero))
        {
            Assert.Null(held.WaitedFor);
            // The lock file names the holder, readable while it is held.
            string path = Path.Combine(Folder, ArtifactFiles.Lock);
            using (var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)))
            {
                var recorded = JsonNode.Parse(reader.ReadToEnd())!;
                Assert.Equal(Environment.ProcessId, (int)recorded["pid"]!);
                Assert.False(string.IsNullOrWhiteSpace((string?)recorded["command_line"]));
            }
            Assert.False(ArtifactLock.TryAcquire(Folder, out var second, out var holder));
            Assert.Null(second);
            Assert.Equal(Environment.ProcessId, holder!.ProcessId);
            Assert.True(holder.IsAlive());
        }
        Assert.True(ArtifactLock.TryAcquire(Folder, out var again, out _));
        again!.Dispose();
        Assert.True(File.Exists(Path.Combine(Folder, ArtifactFiles.Lock)));   // never deleted: see ArtifactFiles.Lock
    }

    [Fact]
    public void AWaiterIsToldOnceThenTimesOutNamingTheHolderAndTheVariable()
    {
        using var held = ArtifactLock.Acquire(Folder, TimeSpan.Zero);
        var told = new List<LockHolder?>();
        var ex = Assert.Throws<ArtifactLockTimeoutException>(() => ArtifactLock.Acquire(Folder, TimeSpan.FromMilliseconds(300), told.Add));
        Assert.Equal(Environment.ProcessId, Assert.Single(told)!.ProcessId);
        Assert.Contains($"process {Environment.ProcessId} (", ex.Message);
        Assert.Contains(ArtifactLockTimeoutException.TimeoutVariable, ex.Message);
        Assert.StartsWith(Path.GetFullPath(Folder), ex.Message);
    }

    [Fact]
    public async Task AWaiterGetsTheLockWhenItIsReleasedAndKnowsWhomItWaitedFor()
    {
        var held = ArtifactLock.Acquire(Folder, TimeSpan.Zero);
        using var waiting = new ManualResetEventSlim();
        var waiter = Task.Run(() => ArtifactLock.Acquire(Folder, TimeSpan.FromMinutes(2), _ => waiting.Set()));
        Assert.True(waiting.Wait(TimeSpan.FromMinutes(2)));
        Assert.False(waiter.IsCompleted);
        held.Dispose();
        using var taken = await waiter;
        Assert.Equal(Environment.ProcessId, taken.WaitedFor!.ProcessId);
    }

    [Fact]
    public void CancellingAWaitStopsIt()
    {
        using var held = ArtifactLock.Acquire(Folder, TimeSpan.Zero);
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => ArtifactLock.Acquire(Folder, TimeSpan.FromMinutes(2), _ => cancel.Cancel(), cancel.Token));
    }
}
