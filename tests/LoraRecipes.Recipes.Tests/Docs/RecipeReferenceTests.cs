using System.Text.RegularExpressions;
using LoraRecipes.Recipes.Schema;

namespace LoraRecipes.Recipes.Tests.Docs;

/// <summary>
/// docs/recipe-reference.md is the schema table rendered (so it cannot drift), and every recipe key the docs mention
/// — in code spans such as <c>`training.learning_rate`</c> or <c>`--set lora.r=8`</c>, and in recipe YAML blocks —
/// is a key of that table.
/// </summary>
public sealed partial class RecipeReferenceTests
{
    [Fact]
    public void The_committed_reference_is_the_generated_one()
    {
        string path = Path.Combine(ShippedRecipesTests.RepositoryRoot(), RecipeReference.FileName);
        string generated = RecipeReference.Generate();
        if (Environment.GetEnvironmentVariable("LORA_UPDATE_DOCS") == "1") File.WriteAllText(path, generated);
        string committed = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : "";
        Assert.True(committed == generated,
            $"{RecipeReference.FileName} differs from the schema table; regenerate it with:\n  {RecipeReference.RegenerateCommand}\nand commit the result.");
    }

    [Fact]
    public void The_reference_lists_every_schema_key()
    {
        string page = RecipeReference.Generate();
        var missing = RecipeSchema.Entries.Where(e => e.Type != RecipeValueType.Section && !page.Contains($"| `{e.Path}` |", StringComparison.Ordinal)).ToList();
        Assert.Empty(missing);
    }

    public static TheoryData<string> Pages() => DocsLinksTests.Pages();

    [Theory]
    [MemberData(nameof(Pages))]
    public void Every_recipe_key_the_docs_mention_is_in_the_schema(string page)
    {
        var unknown = new List<string>();
        foreach (var (line, key) in MentionedKeys(Path.Combine(ShippedRecipesTests.RepositoryRoot(), page)))
            if (RecipeSchema.Find(key) is null) unknown.Add($"{page}:{line}: {key}");
        Assert.True(unknown.Count == 0, "recipe keys the schema does not have (see docs/recipe-reference.md):\n" + string.Join("\n", unknown));
    }

    [Fact]
    public void The_key_finder_reads_code_spans_set_lists_and_recipe_yaml_but_not_file_names()
    {
        string file = Path.Combine(Path.GetTempPath(), $"keys-{Guid.NewGuid():N}.md");
        File.WriteAllText(file, string.Join("\n",
            "Set `training.learning_rate` or `--set lora.r=8;training.epochs=1`; `data.jsonl(3,1): error` is a file.",
            "> ```yaml",
            "> base_model: builtin:tiny-llama",
            "> lora:",
            ">   rank: 8            # a typo the test must catch",
            "> ```",
            "```yaml",
            "steps: [build]",
            "```"));
        try
        {
            Assert.Equal([(1, "training.learning_rate"), (1, "lora.r"), (1, "training.epochs"), (3, "base_model"), (4, "lora"), (5, "lora.rank")], MentionedKeys(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    // (line, dotted key) for every recipe key a markdown page mentions.
    private static List<(int Line, string Key)> MentionedKeys(string path)
    {
        var sections = RecipeSchema.Entries.Where(e => e.Type == RecipeValueType.Section).Select(e => e.Path).ToHashSet(StringComparer.Ordinal);
        var keys = new List<(int, string)>();
        var yaml = new List<(int, string)>();
        bool inYaml = false, inCode = false;
        int number = 0;
        foreach (string raw in File.ReadLines(path))
        {
            number++;
            string line = !raw.StartsWith('>') ? raw : raw.StartsWith("> ", StringComparison.Ordinal) ? raw[2..] : raw[1..];   // blockquotes
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                if (inYaml) { keys.AddRange(RecipeYamlKeys(yaml, sections)); yaml.Clear(); }
                inYaml = !inCode && !inYaml && (line == "```yaml" || line == "```yml");
                inCode = !inCode;
                continue;
            }
            if (inYaml) { yaml.Add((number, line)); continue; }
            if (inCode) continue;
            foreach (Match span in CodeSpan().Matches(line))
                foreach (Match key in DottedKey().Matches(span.Groups[1].Value))
                    if (sections.Contains(key.Groups[1].Value)) keys.Add((number, key.Value));
        }
        return keys;
    }

    // A YAML block is a recipe when one of its top-level keys is base_model or a schema section; then its top-level
    // keys and the keys directly inside its sections must be schema keys.
    private static IEnumerable<(int, string)> RecipeYamlKeys(List<(int Line, string Text)> block, HashSet<string> sections)
    {
        var found = new List<(int, string)>();
        string? section = null;
        foreach (var (line, text) in block)
        {
            var m = YamlKey().Match(text);
            if (!m.Success) continue;
            if (m.Groups[1].Length == 0)
            {
                section = sections.Contains(m.Groups[2].Value) ? m.Groups[2].Value : null;
                found.Add((line, m.Groups[2].Value));
            }
            else if (m.Groups[1].Length == 2 && section is not null) found.Add((line, section + "." + m.Groups[2].Value));
        }
        return found.Any(k => k.Item2 == "base_model" || sections.Contains(k.Item2)) ? found : [];
    }

    [GeneratedRegex(@"`([^`]+)`")]
    private static partial Regex CodeSpan();

    // section.key not followed by more of a name or a path: `data.jsonl(3,1)` and `data.json/…` are files, not keys.
    [GeneratedRegex(@"(?<![\w./-])([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*(?![\w(./-])")]
    private static partial Regex DottedKey();

    [GeneratedRegex(@"^( *)([a-z][a-z0-9_]*):(\s|$)")]
    private static partial Regex YamlKey();
}
