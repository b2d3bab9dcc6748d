using System.Text.RegularExpressions;

namespace LoraRecipes.Recipes.Tests;

/// <summary>
/// Every relative link in README.md, docs/*.md and bench/*.md (outside code blocks) points at a file or folder that
/// exists, so moving a page cannot leave the front door pointing nowhere.
/// </summary>
public sealed partial class DocsLinksTests
{
    [GeneratedRegex(@"\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    public static TheoryData<string> Pages()
    {
        string root = ShippedRecipesTests.RepositoryRoot();
        var data = new TheoryData<string>();
        foreach (string page in new[] { Path.Combine(root, "README.md") }
                     .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md"))
                     .Concat(Directory.GetFiles(Path.Combine(root, "bench"), "*.md")).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(root, page));
        return data;
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void Every_relative_link_resolves(string page)
    {
        string path = Path.Combine(ShippedRecipesTests.RepositoryRoot(), page);
        var broken = new List<string>();
        bool code = false;
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (line.StartsWith("```", StringComparison.Ordinal)) code = !code;
            if (code) continue;
            foreach (Match m in Link().Matches(line))
            {
                string target = m.Groups[1].Value;
                if (target.StartsWith('#') || target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
                string file = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, target.Split('#')[0]));
                if (!File.Exists(file) && !Directory.Exists(file)) broken.Add($"{page}:{number}: {target}");
            }
        }
        Assert.True(broken.Count == 0, "links to nothing:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void The_readme_links_every_docs_page()
    {
        string root = ShippedRecipesTests.RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var missing = Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Select(p => "docs/" + Path.GetFileName(p))
            .Where(p => !readme.Contains("(" + p + ")", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "README.md does not link: " + string.Join(", ", missing));
    }
}
