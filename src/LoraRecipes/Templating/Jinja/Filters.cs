using System.Globalization;
using System.Net;
using System.Text;

namespace LoraRecipes.Templating.Jinja;

/// <summary>A Jinja filter (<c>value | name(args)</c>).</summary>
internal delegate object? Filter(Interpreter it, object? value, List<object?> args, Dictionary<string, object?> kwargs, int offset);

/// <summary>The filters chat templates use, with Jinja2's meanings (tojson as transformers overrides it).</summary>
internal static class Filters
{
    public static readonly Dictionary<string, Filter> Table = new(StringComparer.Ordinal)
    {
        ["length"] = (_, v, _, _, _) => Values.Length(v),
        ["count"] = (_, v, _, _, _) => Values.Length(v),
        ["tojson"] = (_, v, a, kw, _) => JinjaJson.ToJson(v, Opt(a, kw, 0, "indent") is long n ? (int)n : null, Values.Truthy(Opt(a, kw, 1, "sort_keys"))),
        ["trim"] = (_, v, a, kw, _) => Members.Strip(Values.Str(v), Opt(a, kw, 0, "chars"), true, true),
        ["items"] = (_, v, _, _, _) => v is Undefined ? new List<object?>() : Items(v),
        ["first"] = (_, v, _, _, _) => Values.Iterate(v) is { Count: > 0 } l ? l[0] : Undefined.Instance,
        ["last"] = (_, v, _, _, _) => Values.Iterate(v) is { Count: > 0 } l ? l[^1] : Undefined.Instance,
        ["join"] = (_, v, a, kw, _) => string.Join(Opt(a, kw, 0, "d") is string sep ? sep : "",
            Attribute(Values.Iterate(v), Opt(a, kw, 1, "attribute")).Select(Values.Str)),
        ["default"] = Default,
        ["d"] = Default,
        ["selectattr"] = (it, v, a, _, o) => SelectAttr(it, v, a, o, keep: true),
        ["rejectattr"] = (it, v, a, _, o) => SelectAttr(it, v, a, o, keep: false),
        ["select"] = (it, v, a, _, o) => Select(it, v, a, o, keep: true),
        ["reject"] = (it, v, a, _, o) => Select(it, v, a, o, keep: false),
        ["map"] = Map,
        ["indent"] = (_, v, a, kw, _) => Indent(Values.Str(v), Opt(a, kw, 0, "width") ?? 4L,
            Values.Truthy(Opt(a, kw, 1, "first")), Values.Truthy(Opt(a, kw, 2, "blank"))),
        ["string"] = (_, v, _, _, _) => Values.Str(v),
        ["lower"] = (_, v, _, _, _) => Values.Str(v).ToLowerInvariant(),
        ["upper"] = (_, v, _, _, _) => Values.Str(v).ToUpperInvariant(),
        ["title"] = (_, v, _, _, _) => JinjaTitle(Values.Str(v)),
        ["capitalize"] = (_, v, _, _, _) => Members.Capitalize(Values.Str(v)),
        ["replace"] = (_, v, a, _, _) => Members.GetAttribute(Values.Str(v), "replace") is Callable f ? f(a, []) : Undefined.Instance,
        ["list"] = (_, v, _, _, _) => Values.Iterate(v).ToList(),
        ["unique"] = (_, v, _, _, _) => Values.Iterate(v).Aggregate(new List<object?>(), (l, x) => { if (!l.Any(y => Values.Equal(x, y))) l.Add(x); return l; }),
        ["sort"] = Sort,
        ["reverse"] = (_, v, _, _, _) => v is string s ? string.Concat(Values.Characters(s).Cast<string>().Reverse()) : Enumerable.Reverse(Values.Iterate(v)).ToList(),
        ["abs"] = (_, v, _, _, _) => v switch { long n => (object)Math.Abs(n), double d => Math.Abs(d), _ => throw new InvalidOperationException($"abs() of {Values.TypeName(v)}") },
        ["int"] = (_, v, a, _, _) => ToInt(v, a.Count > 0 ? a[0] : 0L),
        ["float"] = (_, v, a, _, _) => ToFloat(v, a.Count > 0 ? a[0] : 0.0),
        ["round"] = (_, v, a, kw, _) => Math.Round(Values.ToDouble(v), (int)(Opt(a, kw, 0, "precision") as long? ?? 0), MidpointRounding.AwayFromZero),
        ["safe"] = (_, v, _, _, _) => v,
        ["escape"] = (_, v, _, _, _) => WebUtility.HtmlEncode(Values.Str(v)),
        ["e"] = (_, v, _, _, _) => WebUtility.HtmlEncode(Values.Str(v)),
        ["dictsort"] = (_, v, _, _, _) => Items(v).OrderBy(p => (string)((List<object?>)p!)[0]!, StringComparer.Ordinal).ToList(),
        ["sum"] = (it, v, a, kw, _) => Attribute(Values.Iterate(v), Opt(a, kw, 0, "attribute"))
            .Aggregate<object?, object?>(Opt(a, kw, 1, "start") ?? 0L, (acc, x) => Arithmetic.Apply("+", acc, x, it, 0)),
        ["min"] = (_, v, _, _, _) => Values.Iterate(v).DefaultIfEmpty(Undefined.Instance).Aggregate((x, y) => Values.Compare(y, x) < 0 ? y : x),
        ["max"] = (_, v, _, _, _) => Values.Iterate(v).DefaultIfEmpty(Undefined.Instance).Aggregate((x, y) => Values.Compare(y, x) > 0 ? y : x),
        ["attr"] = (_, v, a, _, _) => Members.GetAttribute(v, Values.Str(a.Count > 0 ? a[0] : "")),
        ["batch"] = (_, v, a, _, _) => Values.Iterate(v).Chunk((int)Math.Max(1, a.Count > 0 && a[0] is long n ? n : 1)).Select(c => (object?)c.ToList()).ToList(),
        ["wordcount"] = (_, v, _, _, _) => (long)Members.Split(Values.Str(v), null, -1).Count,
    };

    private static object? Opt(List<object?> args, Dictionary<string, object?> kwargs, int i, string name) =>
        i < args.Count ? args[i] : kwargs.TryGetValue(name, out object? v) ? v : null;

    private static object? Default(Interpreter it, object? v, List<object?> a, Dictionary<string, object?> kw, int offset)
    {
        object? fallback = Opt(a, kw, 0, "default_value") ?? "";
        bool boolean = Values.Truthy(Opt(a, kw, 1, "boolean"));
        return v is Undefined || (boolean && !Values.Truthy(v)) ? fallback : v;
    }

    private static List<object?> Items(object? v) => v switch
    {
        Dictionary<string, object?> d => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
        Namespace ns => ns.Attributes.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
        _ => throw new InvalidOperationException($"items: expected a mapping, got {Values.TypeName(v)}"),
    };

    /// <summary>An attribute path ("a.b", or an integer index) of each item; the items themselves without one.</summary>
    private static IEnumerable<object?> Attribute(List<object?> items, object? attribute) =>
        attribute is null ? items : items.Select(x => Lookup(x, attribute));

    private static object? Lookup(object? item, object? attribute)
    {
        if (attribute is long index) return item is List<object?> l && index >= 0 && index < l.Count ? l[(int)index] : Undefined.Instance;
        foreach (string part in Values.Str(attribute).Split('.'))
            item = int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int i) && item is List<object?> l
                ? (i < l.Count ? l[i] : Undefined.Instance)
                : Members.GetAttribute(item, part);
        return item;
    }

    private static List<object?> SelectAttr(Interpreter it, object? v, List<object?> a, int offset, bool keep)
    {
        if (a.Count == 0) throw new InvalidOperationException("selectattr/rejectattr need an attribute name");
        string? test = a.Count > 1 ? Values.Str(a[1]) : null;
        List<object?> testArgs = a.Skip(2).ToList();
        return Values.Iterate(v).Where(x =>
        {
            object? value = Lookup(x, a[0]);
            bool pass = test is null ? Values.Truthy(value) : it.ApplyTest(test, value, testArgs, offset);
            return pass == keep;
        }).ToList();
    }

    private static List<object?> Select(Interpreter it, object? v, List<object?> a, int offset, bool keep)
    {
        string? test = a.Count > 0 ? Values.Str(a[0]) : null;
        List<object?> testArgs = a.Skip(1).ToList();
        return Values.Iterate(v).Where(x => (test is null ? Values.Truthy(x) : it.ApplyTest(test, x, testArgs, offset)) == keep).ToList();
    }

    /// <summary><c>map(attribute='name', default=…)</c> or <c>map('filter', args…)</c>.</summary>
    private static object? Map(Interpreter it, object? v, List<object?> a, Dictionary<string, object?> kw, int offset)
    {
        List<object?> items = Values.Iterate(v);
        if (kw.TryGetValue("attribute", out object? attribute))
        {
            return items.Select(x => Lookup(x, attribute) is Undefined && kw.TryGetValue("default", out object? d) ? d : Lookup(x, attribute)).ToList();
        }
        if (a.Count == 0) throw new InvalidOperationException("map needs a filter name or attribute=");
        string filter = Values.Str(a[0]);
        List<object?> rest = a.Skip(1).ToList();
        return items.Select(x => it.ApplyFilter(filter, x, rest, new Dictionary<string, object?>(kw), offset)).ToList();
    }

    private static List<object?> Sort(Interpreter it, object? v, List<object?> a, Dictionary<string, object?> kw, int offset)
    {
        bool reverse = Values.Truthy(Opt(a, kw, 0, "reverse"));
        bool caseSensitive = Values.Truthy(Opt(a, kw, 1, "case_sensitive"));
        object? attribute = Opt(a, kw, 2, "attribute");
        object? Key(object? x)
        {
            object? k = attribute is null ? x : Lookup(x, attribute);
            return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
        }
        var sorted = Values.Iterate(v).Select((x, i) => (x, i)).ToList();
        sorted.Sort((p, q) => Values.Compare(Key(p.x), Key(q.x)) is var c && c != 0 ? (reverse ? -c : c) : p.i.CompareTo(q.i));
        return sorted.Select(p => p.x).ToList();
    }

    /// <summary>Jinja's indent: every line but the first (unless first=True) gets the prefix; blank lines too only with blank=True.</summary>
    private static string Indent(string s, object width, bool first, bool blank)
    {
        string prefix = width is string w ? w : new string(' ', (int)Math.Clamp(Values.ToDouble(width), 0, 1024));
        List<string> lines = SplitLines(s + "\n");
        string result;
        if (blank) result = string.Join("\n" + prefix, lines);
        else
        {
            var sb = new StringBuilder(lines.Count > 0 ? lines[0] : "");
            for (int i = 1; i < lines.Count; i++) sb.Append('\n').Append(lines[i].Length > 0 ? prefix + lines[i] : lines[i]);
            result = sb.ToString();
        }
        return first ? prefix + result : result;
    }

    /// <summary>Python's str.splitlines() (no trailing empty item for a final line break).</summary>
    public static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
            lines.Add(s[start..i]);
            if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    /// <summary>Jinja's title filter: the first letter of each word (after - space ( { [ &lt;) upper, the rest lower.</summary>
    private static string JinjaTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            bool separator = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            sb.Append(separator ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = separator;
        }
        return sb.ToString();
    }

    private static object? ToInt(object? v, object? fallback) => v switch
    {
        long n => n,
        bool b => b ? 1L : 0L,
        double d when !double.IsNaN(d) && !double.IsInfinity(d) => (long)Math.Truncate(d),
        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) => n,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && !double.IsInfinity(d) => (long)Math.Truncate(d),
        _ => fallback,
    };

    private static object? ToFloat(object? v, object? fallback) => v switch
    {
        long n => (double)n,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        _ => fallback,
    };
}
