using System.Globalization;
using System.Text;

namespace LoraRecipes.Recipes.Schema;

/// <summary>
/// docs/recipe-reference.md, generated from <see cref="RecipeSchema.Entries"/>: one table per section with every key's
/// type, default, allowed values and description, so the reference cannot drift from what validation accepts.
/// </summary>
public static class RecipeReference
{
    /// <summary>The page's path in the repository.</summary>
    public const string FileName = "docs/recipe-reference.md";

    /// <summary>The command that rewrites <see cref="FileName"/> (the docs test prints it when the page is stale).</summary>
    public const string RegenerateCommand =
        "LORA_UPDATE_DOCS=1 dotnet test tests/LoraRecipes.Recipes.Tests -c Release --filter FullyQualifiedName~RecipeReferenceTests";

    /// <summary>The page as markdown ('\n' line ends, ends with a newline).</summary>
    public static string Generate()
    {
        var md = new StringBuilder();
        md.Append("# Recipe reference\n\n")
          .Append("[← README](../README.md) · [recipes, explained](recipes.md)\n\n")
          .Append($"<!-- Generated from src/LoraRecipes.Recipes/Schema/RecipeSchema.cs; do not edit. Regenerate: {RegenerateCommand} -->\n\n")
          .Append($"Every key of a recipe (schema v{RecipeSchema.Version}), generated from the table validation reads. ")
          .Append("Keys are snake_case; an unknown key is an error with a did-you-mean. *required* keys may come from an `extends:` base. ")
          .Append("`{name}` in a default stands for the recipe's `name`. Any key can be overridden with `--set key.path=value`.\n");
        Table(md, "Top level", RecipeSchema.ChildrenOf("").Where(e => e.Type != RecipeValueType.Section));
        foreach (var section in RecipeSchema.ChildrenOf("").Where(e => e.Type == RecipeValueType.Section))
        {
            md.Append($"\n## `{section.Path}`\n\n{section.Doc}\n");
            // A subsection (evaluation.early_stopping) is a row of its own, followed by its keys.
            Table(md, null, RecipeSchema.Entries.Where(e => e.Path.StartsWith(section.Path + ".", StringComparison.Ordinal)));
        }
        return md.ToString();
    }

    private static void Table(StringBuilder md, string? heading, IEnumerable<RecipeSchemaEntry> entries)
    {
        if (heading is not null) md.Append($"\n## {heading}\n");
        md.Append("\n| Key | Type | Default | Allowed | Description |\n|---|---|---|---|---|\n");
        foreach (var e in entries)
            md.Append($"| `{e.Path}` | {TypeName(e)} | {DefaultText(e)} | {Cell(AllowedText(e))} | {Cell(Prose(e.Doc))} |\n");
    }

    private static string TypeName(RecipeSchemaEntry e) => (e.Type switch
    {
        RecipeValueType.String => "string",
        RecipeValueType.Integer => "integer",
        RecipeValueType.Number => "number",
        RecipeValueType.Boolean => "boolean",
        RecipeValueType.Choice => "choice",
        RecipeValueType.StringList => "list of strings",
        RecipeValueType.ChoiceList => "list of choices",
        RecipeValueType.ModuleList => "module list",
        RecipeValueType.Schedule => "schedule",
        _ => "section",
    }) + (e.Nullable ? " or null" : "");

    private static string DefaultText(RecipeSchemaEntry e)
    {
        if (e.Type == RecipeValueType.Section) return "";
        if (e.Required) return "*required*";
        return e.Default switch
        {
            null => "`null`",
            string s => $"`{Cell(s)}`",
            bool b => b ? "`true`" : "`false`",
            long l => $"`{l.ToString(CultureInfo.InvariantCulture)}`",
            double d => $"`{Number(d)}`",
            IEnumerable<string> list => $"`[{string.Join(", ", list)}]`",
            var other => $"`{Cell(Convert.ToString(other, CultureInfo.InvariantCulture) ?? "")}`",
        };
    }

    // A number key's default reads as a number: 1.0, not 1.
    private static string Number(double d)
    {
        string text = d.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('.') || text.Contains('E') ? text : text + ".0";
    }

    private static string AllowedText(RecipeSchemaEntry e)
    {
        var parts = new List<string>();
        if (e.Allowed.Count > 0) parts.Add(string.Join(", ", e.Allowed.Select(a => $"`{a}`")));
        if (e.DescribeRange() is { } range) parts.Add(Prose(range));
        if (e.Pattern is { } pattern && e.Allowed.Count == 0) parts.Add($"matches `{pattern}`");
        if (e.Pattern is { } alternative && e.Type == RecipeValueType.Choice) parts.Add($"or `{alternative}`");
        return parts.Count == 0 ? "" : string.Join("; ", parts);
    }

    // Text outside code spans: "<name>" would be read as an HTML tag and vanish.
    private static string Prose(string text) => text.Replace("<", "&lt;", StringComparison.Ordinal);

    // A table cell: a '|' would end it, a line break would end the row.
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
