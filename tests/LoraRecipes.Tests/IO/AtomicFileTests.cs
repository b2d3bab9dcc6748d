using System.Text;
using LoraRecipes.IO;

namespace LoraRecipes.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void TheDirectoryItselfIsFlushedAndAMissingOneIsReportedNotThrown()
    {
        // The native open/fsync/close binding works (a wrong binding or flag would return false or crash here).
        using var dir = new TempDirectory();
        Assert.True(AtomicFile.FlushDirectory(dir.Path));
        if (!OperatingSystem.IsWindows()) Assert.False(AtomicFile.FlushDirectory(Path.Combine(dir.Path, "missing")));
    }

    [Fact]
    public void FailedWriteLeavesOldContentAndNoTempFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("adapter_config.json");
        File.WriteAllText(path, "old");

        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("new and half-writ"u8);
            throw new InvalidOperationException("killed mid-write");
        }));

        Assert.Equal("killed mid-write", e.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void FailedFirstWriteLeavesNothing()
    {
        using var dir = new TempDirectory();
        Assert.Throws<IOException>(() => AtomicFile.Write(dir.File("a.bin"), _ => throw new IOException("disk full")));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void ReplacesContentAndCreatesTheDirectory()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "nested", "deeper", "metrics.jsonl");

        AtomicFile.WriteAllText(path, "first, longer content");
        AtomicFile.WriteAllText(path, "héllo");

        Assert.Equal(Encoding.UTF8.GetBytes("héllo"), File.ReadAllBytes(path)); // no BOM, no leftover tail
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void CallbackMayDisposeTheStream()
    {
        using var dir = new TempDirectory();
        string path = dir.File("recipe.resolved.yaml");

        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream); // disposes the stream, as careless callers do
            writer.Write("name: medical-qa\n");
        });

        Assert.Equal("name: medical-qa\n", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }
}
