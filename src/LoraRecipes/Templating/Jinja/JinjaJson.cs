using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// JSON in and out of template values. Out: the <c>tojson</c> filter as transformers defines it
/// (<c>json.dumps(x, ensure_ascii=False, indent=indent, separators=None, sort_keys=False)</c>: ", " and ": "
/// between items, "," and ": " with an indent; non-ASCII kept). In: JSON documents (conversations, tools) as values.
/// </summary>
public static class JinjaJson
{
    /// <summary>A parsed JSON value as a template value (objects keep their key order).</summary>
    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().Aggregate(new Dictionary<string, object?>(StringComparer.Ordinal),
            (d, p) => { d[p.Name] = FromJson(p.Value); return d; }),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long n) && !e.GetRawText().Contains('.') && !e.GetRawText().Contains('e') && !e.GetRawText().Contains('E')
            ? (object)n : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    /// <summary>Parses a JSON document into a template value.</summary>
    public static object? Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return FromJson(doc.RootElement);
    }

    /// <summary>The <c>tojson</c> filter.</summary>
    public static string ToJson(object? value, int? indent = null, bool sortKeys = false)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, sortKeys, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, int? indent, bool sortKeys, int depth)
    {
        if (depth > 128) throw new InvalidOperationException("tojson: value nests deeper than 128 levels");
        switch (v)
        {
            case null or Undefined: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long n: sb.Append(n.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : Values.FloatRepr(d));
                break;
            case string s: WriteString(sb, s); break;
            case List<object?> list:
                WriteContainer(sb, '[', ']', list.Count, indent, depth, i => Write(sb, list[i], indent, sortKeys, depth + 1));
                break;
            case Dictionary<string, object?> dict:
                WriteObject(sb, dict, indent, sortKeys, depth);
                break;
            case Namespace ns:
                WriteObject(sb, ns.Attributes, indent, sortKeys, depth);
                break;
            default:
                throw new InvalidOperationException($"tojson: a {Values.TypeName(v)} is not JSON serializable");
        }
    }

    private static void WriteObject(StringBuilder sb, Dictionary<string, object?> dict, int? indent, bool sortKeys, int depth)
    {
        var entries = sortKeys ? dict.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList() : dict.ToList();
        WriteContainer(sb, '{', '}', entries.Count, indent, depth, i =>
        {
            WriteString(sb, entries[i].Key);
            sb.Append(": ");
            Write(sb, entries[i].Value, indent, sortKeys, depth + 1);
        });
    }

    private static void WriteContainer(StringBuilder sb, char open, char close, int count, int? indent, int depth, Action<int> item)
    {
        sb.Append(open);
        if (count == 0) { sb.Append(close); return; }
        for (int i = 0; i < count; i++)
        {
            if (indent is { } width)
            {
                if (i > 0) sb.Append(',');
                sb.Append('\n').Append(' ', width * (depth + 1));
            }
            else if (i > 0) sb.Append(", ");
            item(i);
        }
        if (indent is { } w) sb.Append('\n').Append(' ', w * depth);
        sb.Append(close);
    }

    /// <summary>A JSON string as json.dumps writes it with ensure_ascii=False.</summary>
    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
