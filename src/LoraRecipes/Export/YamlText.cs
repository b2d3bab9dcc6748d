using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LoraRecipes.Export;

/// <summary>
/// A small, deterministic YAML writer for the engines' flat configs: comments, section headers, <c>key: value</c>
/// lines and one level of nested maps or lists. Strings are written double-quoted (JSON escapes are valid YAML), so
/// no value is ever misread as a number, a boolean or null.
/// </summary>
internal sealed class YamlText
{
    private readonly StringBuilder _text = new();

    /// <summary>A <c># …</c> line (empty text: a bare <c>#</c>).</summary>
    public YamlText Comment(string text)
    {
        _text.Append(text.Length == 0 ? "#" : "# " + text).Append('\n');
        return this;
    }

    /// <summary>A blank line and a <c>### title</c> header, as LLaMA-Factory's examples group their keys.</summary>
    public YamlText Section(string title)
    {
        _text.Append('\n').Append("### ").Append(title).Append('\n');
        return this;
    }

    /// <summary><c>key: value</c>, with an optional trailing comment.</summary>
    public YamlText Key(string key, object? value, string? comment = null)
    {
        _text.Append(key).Append(": ").Append(Scalar(value));
        if (comment is not null) _text.Append("  # ").Append(comment);
        _text.Append('\n');
        return this;
    }

    /// <summary><c>key:</c> followed by <c>- {a: 1, b: 2}</c> items (flow maps, one per line).</summary>
    public YamlText List(string key, IEnumerable<IReadOnlyList<(string Key, object? Value)>> items)
    {
        _text.Append(key).Append(":\n");
        foreach (var item in items)
            _text.Append("  - ").Append(string.Join("\n    ", item.Select(kv => $"{kv.Key}: {Scalar(kv.Value)}"))).Append('\n');
        return this;
    }

    /// <summary><c>key:</c> followed by an indented map.</summary>
    public YamlText Map(string key, IEnumerable<(string Key, object? Value)> entries)
    {
        _text.Append(key).Append(":\n");
        foreach (var (k, v) in entries) _text.Append("  ").Append(k).Append(": ").Append(Scalar(v)).Append('\n');
        return this;
    }

    /// <inheritdoc/>
    public override string ToString() => _text.ToString();

    /// <summary>A YAML scalar or flow list.</summary>
    public static string Scalar(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        int or long => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        double d => Number(d),
        string s => JsonSerializer.Serialize(s, Json),
        System.Collections.IEnumerable list => "[" + string.Join(", ", list.Cast<object?>().Select(Scalar)) + "]",
        _ => JsonSerializer.Serialize(value.ToString(), Json),
    };

    /// <summary>Round-trip number text that YAML 1.1 and 1.2 both read as a float (1.0e-2, not 1E-02 or 0.01 ambiguity).</summary>
    private static string Number(double d)
    {
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        if (r.Contains('E'))
        {
            // PyYAML (YAML 1.1) reads 1e-2 as a string: it needs a dot in the mantissa and a signed exponent.
            var parts = r.Split('E');
            string mantissa = parts[0].Contains('.') ? parts[0] : parts[0] + ".0";
            string exponent = parts[1].StartsWith('-') || parts[1].StartsWith('+') ? parts[1] : "+" + parts[1];
            return mantissa + "e" + exponent;
        }
        return r.Contains('.') ? r : r + ".0";
    }

    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
