using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LoraRecipes.Bench.Survey;

/// <summary>One row of a survey: its name (what <c>--rows</c> selects) and the <c>--set</c> overrides that make it.</summary>
internal sealed record SurveyRowSpec(string Name, IReadOnlyList<string> Overrides, string? Note);

/// <summary>
/// A survey file (<c>bench/survey/*.yaml</c>): the recipe every row trains, an optional test file every row's adapter is
/// evaluated on (<c>dotnet lora eval --json</c>), overrides common to every row, and the rows:
/// <code>
/// recipe: ../../recipes/sentiment.yaml      # relative to this file
/// test: ../../recipes/data/sentiment-test.jsonl
/// set: []                                   # applied to every row, before the row's own
/// rows:
///   - { name: dora, set: [lora.use_dora=true], note: DoRA on query + value }
/// </code>
/// Unknown keys are errors naming the file, line and column, as in a recipe.
/// </summary>
internal sealed record SurveySpec(string File, string Recipe, string? Test, IReadOnlyList<string> Overrides, IReadOnlyList<SurveyRowSpec> Rows)
{
    private static readonly string[] TopKeys = ["recipe", "test", "set", "rows"];
    private static readonly string[] RowKeys = ["name", "set", "note"];

    /// <summary>The survey file <paramref name="path"/>.</summary>
    /// <exception cref="SurveyException">Not a valid survey file.</exception>
    public static SurveySpec Load(string path)
    {
        if (!System.IO.File.Exists(path)) throw new SurveyException($"{path}: no such survey file.");
        return Parse(System.IO.File.ReadAllText(path), Path.GetFullPath(path));
    }

    /// <summary>Parses survey YAML; relative paths resolve against <paramref name="path"/>'s folder.</summary>
    /// <exception cref="SurveyException">Not a valid survey file (the message names file, line and column).</exception>
    public static SurveySpec Parse(string yaml, string path)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw new SurveyException($"{path}:{ex.Start.Line}:{ex.Start.Column}: not valid YAML: {ex.Message}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new SurveyException($"{path}: a survey is a mapping with recipe, rows and optionally test and set.");
        string folder = Path.GetDirectoryName(path) ?? ".";
        CheckKeys(root, TopKeys, path);
        string recipe = Scalar(root, "recipe", path) ?? throw new SurveyException($"{path}:{Where(root)}: 'recipe' is missing: the recipe every row trains.");
        string? test = Scalar(root, "test", path);
        var rows = new List<SurveyRowSpec>();
        if (Child(root, "rows") is not YamlSequenceNode sequence || sequence.Children.Count == 0)
            throw new SurveyException($"{path}:{Where(root)}: 'rows' must be a non-empty list of {{ name, set }}.");
        foreach (var node in sequence)
        {
            if (node is not YamlMappingNode row) throw new SurveyException($"{path}:{Where(node)}: a row is a mapping {{ name: …, set: [ … ] }}.");
            CheckKeys(row, RowKeys, path);
            string name = Scalar(row, "name", path) ?? throw new SurveyException($"{path}:{Where(row)}: the row has no 'name'.");
            if (name.Contains(',') || name.Length == 0) throw new SurveyException($"{path}:{Where(row)}: row name '{name}' must be non-empty and contain no comma (--rows takes a comma-separated list).");
            if (rows.Any(r => r.Name == name)) throw new SurveyException($"{path}:{Where(row)}: a second row named '{name}'.");
            rows.Add(new SurveyRowSpec(name, List(row, "set", path), Scalar(row, "note", path)));
        }
        return new SurveySpec(path, Path.GetFullPath(Path.Combine(folder, recipe)), test is null ? null : Path.GetFullPath(Path.Combine(folder, test)), List(root, "set", path), rows);
    }

    /// <summary>The rows named in <paramref name="names"/>, in the file's order; all rows when null.</summary>
    /// <exception cref="SurveyException">A name that is no row of this survey.</exception>
    public SurveySpec Select(IReadOnlyList<string>? names)
    {
        if (names is null) return this;
        if (names.FirstOrDefault(n => Rows.All(r => r.Name != n)) is { } unknown)
            throw new SurveyException($"{File}: no row named '{unknown}'; the rows are {string.Join(", ", Rows.Select(r => r.Name))}.");
        return this with { Rows = Rows.Where(r => names.Contains(r.Name)).ToList() };
    }

    private static void CheckKeys(YamlMappingNode node, string[] allowed, string path)
    {
        foreach (var (key, _) in node.Children)
        {
            string name = (key as YamlScalarNode)?.Value ?? "";
            if (!allowed.Contains(name)) throw new SurveyException($"{path}:{Where(key)}: unknown key '{name}'; expected one of {string.Join(", ", allowed)}.");
        }
    }

    private static YamlNode? Child(YamlMappingNode node, string key) =>
        node.Children.FirstOrDefault(c => (c.Key as YamlScalarNode)?.Value == key).Value;

    private static string? Scalar(YamlMappingNode node, string key, string path) => Child(node, key) switch
    {
        null => null,
        YamlScalarNode { Value: null or "" or "null" or "~" } => null,
        YamlScalarNode s => s.Value,
        var other => throw new SurveyException($"{path}:{Where(other)}: '{key}' must be a single value."),
    };

    /// <summary>A list of <c>key=value</c> overrides (a single string is a one-item list).</summary>
    private static List<string> List(YamlMappingNode node, string key, string path) => Child(node, key) switch
    {
        null => [],
        YamlScalarNode { Value: null or "" or "null" or "~" } => [],
        YamlScalarNode s => [Override(s, path)],
        YamlSequenceNode seq => seq.Select(n => n is YamlScalarNode s ? Override(s, path)
            : throw new SurveyException($"{path}:{Where(n)}: each override is one string key=value (quote it when the value is a list: \"lora.target_modules=[]\").")).ToList(),
        var other => throw new SurveyException($"{path}:{Where(other)}: '{key}' must be a list of key=value overrides."),
    };

    private static string Override(YamlScalarNode s, string path) =>
        s.Value is { } v && v.IndexOf('=') > 0 ? v : throw new SurveyException($"{path}:{Where(s)}: '{s.Value}' is not a key=value override (as for dotnet lora run --set).");

    private static string Where(YamlNode node) => $"{node.Start.Line}:{node.Start.Column}";
}

/// <summary>A survey file or option that cannot be used; the message says where and what to do.</summary>
internal sealed class SurveyException(string message) : Exception(message);
