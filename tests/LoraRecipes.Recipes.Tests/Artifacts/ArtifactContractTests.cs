using System.Text.RegularExpressions;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Recipes.Tests.Artifacts;

/// <summary>
/// The artifact folder has one owner: its file names are spelled only in <see cref="ArtifactFiles"/> and the manifest is
/// parsed only by <see cref="LoraManifest"/>. Scans the sources, so a new string-keyed reader fails here.
/// </summary>
public sealed class ArtifactContractTests
{
    private static IEnumerable<(string Path, string Text)> Sources(params string[] extensions)
    {
        string src = Path.Combine(ShippedRecipesTests.RepositoryRoot(), "src");
        return Directory.EnumerateFiles(src, "*", SearchOption.AllDirectories)
            .Where(p => extensions.Contains(Path.GetExtension(p)) && !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(p => (Path.GetRelativePath(src, p).Replace('\\', '/'), File.ReadAllText(p)));
    }

    [Fact]
    public void ArtifactFileNamesAreSpelledOnlyInArtifactFiles()
    {
        string[] names = [.. ArtifactFiles.All, ArtifactFiles.Lock];
        var offenders = Sources(".cs", ".targets", ".props")
            .Where(f => f.Path != "LoraRecipes.Recipes/Artifacts/ArtifactFiles.cs")
            .SelectMany(f => names.Where(n => f.Text.Contains($"\"{n}\"", StringComparison.Ordinal) || f.Text.Contains($")'{n}'", StringComparison.Ordinal)
                    || Regex.IsMatch(f.Text, $@"%\(FullPath\){Regex.Escape(n)}"))
                .Select(n => $"{f.Path}: {n}"))
            .ToList();
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    [Fact]
    public void NothingButLoraManifestParsesTheManifest()
    {
        // A file that names the manifest and parses JSON by hand reads it by string keys.
        var offenders = Sources(".cs")
            .Where(f => f.Text.Contains("ArtifactFiles.Manifest", StringComparison.Ordinal) || f.Text.Contains("lora-manifest", StringComparison.Ordinal))
            .Where(f => Regex.IsMatch(f.Text, @"Json(Node|Document)\.Parse|GetProperty\(""fingerprint""|\[""fingerprint""\]"))
            .Select(f => f.Path)
            .Where(p => p != "LoraRecipes.Recipes/Artifacts/LoraManifest.cs")
            .ToList();
        Assert.True(offenders.Count == 0, "parse lora-manifest.json with LoraManifest.Read: " + string.Join(", ", offenders));
    }
}
