using LoraRecipes.Native;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Native;

public class LibTorchLoaderTests
{
    [Fact]
    public void TorchSharpComputesAfterInitialization()
    {
        LibTorchLoader.EnsureInitialized();
        using var x = arange(4, dtype: ScalarType.Float32);
        Assert.Equal(6f, x.sum().item<float>());
    }

    [Fact]
    public void MarkVersionWeakSetsOnlyTheNamedRequirement()
    {
        string? lib = LibTorchLoader.Report.TorchSharpLibrary;
        if (lib is null || !File.Exists(lib)) return; // not on Linux: nothing to patch
        byte[] original = File.ReadAllBytes(lib);
        byte[] patched = (byte[])original.Clone();

        int changed = ElfVersionPatcher.MarkVersionWeak(patched, "GLIBCXX_3.4.32");

        Assert.Equal(1, changed);
        int differing = original.Zip(patched).Count(p => p.First != p.Second);
        Assert.Equal(1, differing); // one byte of one vna_flags field
        Assert.Equal(0, ElfVersionPatcher.MarkVersionWeak((byte[])original.Clone(), "GLIBCXX_99.0"));
    }

    [Fact]
    public void RejectsNonElfInput()
    {
        Assert.Throws<BadImageFormatException>(() => ElfVersionPatcher.MarkVersionWeak(new byte[100], "GLIBCXX_3.4.32"));
    }
}
