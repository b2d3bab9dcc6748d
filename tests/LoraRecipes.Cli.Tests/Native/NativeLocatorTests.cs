using LoraRecipes.Native;

namespace LoraRecipes.Cli.Tests.Native;

/// <summary>Where the natives are looked for, on fake folder layouts (empty files; nothing is loaded).</summary>
public sealed class NativeLocatorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lora-natives-").FullName;
    private readonly (string Glue, string Marker) _names = NativeLocator.FileNames;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string App => Path.Combine(_root, "app");
    private string Packages => Path.Combine(_root, "packages");

    private string Touch(params string[] parts)
    {
        string path = Path.Combine([_root, .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    private string CachedLibTorch() =>
        Path.Combine(Packages, NativeLocator.BackendPackage("cpu"), NativeLocator.LibTorchVersion, "runtimes", NativeLocator.Rid, "native");

    [Fact]
    public void BuildOutputWithBothHalvesIsAppLocal()
    {
        Touch("app", "runtimes", NativeLocator.Rid, "native", _names.Glue);
        Touch("app", "runtimes", NativeLocator.Rid, "native", _names.Marker);
        var found = NativeLocator.Find([App], Packages);
        Assert.NotNull(found);
        Assert.True(found.AppLocal);
        Assert.Equal(Path.Combine(App, "runtimes", NativeLocator.Rid, "native"), found.LibTorchDirectory);
    }

    [Fact]
    public void TorchSharpsConsolidatedCpuFolderIsAppLocal()
    {
        Touch("app", "cpu", _names.Glue);
        Touch("app", "cpu", _names.Marker);
        Assert.Equal(Path.Combine(App, "cpu"), NativeLocator.Find([App], Packages)?.LibTorchDirectory);
    }

    [Fact]
    public void ToolLayoutTakesLibTorchFromTheNuGetCacheAndItsOwnGlue()
    {
        string glue = Touch("app", _names.Glue);   // a RID-specific tool package: natives flat beside the app
        Touch("packages", NativeLocator.BackendPackage("cpu"), NativeLocator.LibTorchVersion, "runtimes", NativeLocator.Rid, "native", _names.Marker);
        var found = NativeLocator.Find([App], Packages);
        Assert.NotNull(found);
        Assert.False(found.AppLocal);
        Assert.Equal(glue, found.TorchSharpLibrary);
        Assert.Equal(CachedLibTorch(), found.LibTorchDirectory);
    }

    [Fact]
    public void GlueFallsBackToTheCachedTorchSharpPackage()
    {
        Directory.CreateDirectory(App);
        Touch("packages", NativeLocator.BackendPackage("cpu"), NativeLocator.LibTorchVersion, "runtimes", NativeLocator.Rid, "native", _names.Marker);
        string glue = Touch("packages", "torchsharp", NativeLocator.TorchSharpVersion, "runtimes", NativeLocator.Rid, "native", _names.Glue);
        Assert.Equal(glue, NativeLocator.Find([App], Packages)?.TorchSharpLibrary);
    }

    [Fact]
    public void NothingAnywhereIsNull()
    {
        Touch("app", _names.Glue);
        Assert.Null(NativeLocator.Find([App], Packages));
    }

    [Fact]
    public void VersionsAreNuGetNormalised()
    {
        Assert.Equal("2.10.0", NativeLocator.NormalizeVersion("2.10.0.0"));
        Assert.Equal("2.10.0.1", NativeLocator.NormalizeVersion("2.10.0.1"));
        Assert.Equal("0.107.0", NativeLocator.TorchSharpVersion);
        Assert.Equal("2.10.0", NativeLocator.LibTorchVersion);
    }

    [Fact]
    public void SetupRestoresTheBackendWithoutTheRepositorysCentralVersions()
    {
        string project = LoraRecipes.Cli.Commands.SetupCommand.Project("cpu", NativeLocator.BackendPackage("cpu"), null);
        Assert.Contains($"<PackageReference Include=\"{NativeLocator.BackendPackage("cpu")}\" Version=\"{NativeLocator.LibTorchVersion}\" />", project);
        Assert.Contains("<ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>", project);
        Assert.Contains($"<PackageReference Include=\"TorchSharp\" Version=\"{NativeLocator.TorchSharpVersion}\" />", project);
    }
}
