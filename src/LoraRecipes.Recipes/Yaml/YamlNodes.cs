namespace LoraRecipes.Recipes.Yaml;

// A small YAML tree that keeps the position of every key and value. YamlDotNet's RepresentationModel
// rejects duplicate keys by throwing and copies aliased subtrees, so the recipe reader builds its own.

/// <summary>A YAML value with its position.</summary>
internal abstract class YamlNode(SourceLocation location)
{
    /// <summary>Where the value starts.</summary>
    public SourceLocation Location { get; } = location;

    /// <summary>Nodes in this subtree, aliases counted as their expansion (used to cap alias bombs).</summary>
    public abstract long ExpandedSize { get; }

    /// <summary>A word for messages: "text", "a list", "a map".</summary>
    public abstract string Describe();
}

/// <summary>A scalar: the raw text plus whether it was written plain (unquoted), which decides its type.</summary>
internal sealed class YamlScalar(SourceLocation location, string value, bool isPlain) : YamlNode(location)
{
    public string Value { get; } = value;

    /// <summary>True when unquoted and untagged: only plain scalars can be numbers, booleans or null.</summary>
    public bool IsPlain { get; } = isPlain;

    /// <summary>YAML 1.2 core-schema null: an empty or <c>~</c>/<c>null</c> plain scalar.</summary>
    public bool IsNull => IsPlain && Value is "" or "~" or "null" or "Null" or "NULL";

    public override long ExpandedSize => 1;

    public override string Describe() => IsNull ? "null" : $"'{Truncate(Value)}'";

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..37] + "...";
}

/// <summary>A list.</summary>
internal sealed class YamlSequence(SourceLocation location, IReadOnlyList<YamlNode> items, long size) : YamlNode(location)
{
    public IReadOnlyList<YamlNode> Items { get; } = items;

    public override long ExpandedSize { get; } = size;

    public override string Describe() => "a list";
}

/// <summary>A map whose keys are plain strings, in document order.</summary>
internal sealed class YamlMapping(SourceLocation location, IReadOnlyList<YamlEntry> entries, long size) : YamlNode(location)
{
    public IReadOnlyList<YamlEntry> Entries { get; } = entries;

    public override long ExpandedSize { get; } = size;

    public override string Describe() => "a map";

    public YamlEntry? Find(string key) => Entries.FirstOrDefault(e => e.Key == key);
}

/// <summary>One key of a map, with the key's own position.</summary>
internal sealed record YamlEntry(string Key, SourceLocation KeyLocation, YamlNode Value);
