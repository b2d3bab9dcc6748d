using System.Globalization;
using System.Text;

namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// <c>value.name</c>: a dict's key (else its methods items/keys/values/get), a namespace's attribute, and the
/// Python string methods chat templates call (startswith, endswith, split, strip, lstrip, rstrip, upper, lower,
/// replace, title, …) bound to their string. Anything else is undefined, as in Jinja.
/// </summary>
internal static class Members
{
    public static object? GetAttribute(object? target, string name) => target switch
    {
        Dictionary<string, object?> d => d.TryGetValue(name, out object? v) ? v : DictMethod(d, name),
        Namespace ns => ns.Attributes.TryGetValue(name, out object? v) ? v : Undefined.Instance,
        string s => StringMethod(s, name),
        List<object?> l => ListMethod(l, name),
        _ => Undefined.Instance,
    };

    private static object? DictMethod(Dictionary<string, object?> d, string name) => name switch
    {
        "items" => new Callable((_, _) => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList()),
        "keys" => new Callable((_, _) => d.Keys.Cast<object?>().ToList()),
        "values" => new Callable((_, _) => d.Values.ToList()),
        "get" => new Callable((a, _) => d.TryGetValue(Values.Str(Arg(a, 0, "get")), out object? v) ? v : a.Count > 1 ? a[1] : null),
        _ => Undefined.Instance,
    };

    private static object? ListMethod(List<object?> l, string name) => name switch
    {
        "append" => new Callable((a, _) => { l.Add(Arg(a, 0, "append")); return null; }),
        "index" => new Callable((a, _) => (long)l.FindIndex(x => Values.Equal(x, Arg(a, 0, "index")))),
        "count" => new Callable((a, _) => (long)l.Count(x => Values.Equal(x, Arg(a, 0, "count")))),
        _ => Undefined.Instance,
    };

    private static object? StringMethod(string s, string name) => name switch
    {
        "startswith" => new Callable((a, _) => Affixes(Arg(a, 0, name)).Any(p => s.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => new Callable((a, _) => Affixes(Arg(a, 0, name)).Any(p => s.EndsWith(p, StringComparison.Ordinal))),
        "split" => new Callable((a, kw) => Split(s, Opt(a, kw, 0, "sep"), Opt(a, kw, 1, "maxsplit") is long n ? n : -1)),
        "strip" => new Callable((a, kw) => Strip(s, Opt(a, kw, 0, "chars"), true, true)),
        "lstrip" => new Callable((a, kw) => Strip(s, Opt(a, kw, 0, "chars"), true, false)),
        "rstrip" => new Callable((a, kw) => Strip(s, Opt(a, kw, 0, "chars"), false, true)),
        "upper" => new Callable((_, _) => s.ToUpperInvariant()),
        "lower" => new Callable((_, _) => s.ToLowerInvariant()),
        "title" => new Callable((_, _) => PythonTitle(s)),
        "capitalize" => new Callable((_, _) => Capitalize(s)),
        "replace" => new Callable((a, _) => Replace(s, Str(Arg(a, 0, name)), Str(Arg(a, 1, name)), a.Count > 2 && a[2] is long c ? c : -1)),
        "find" => new Callable((a, _) => (long)s.IndexOf(Str(Arg(a, 0, name)), StringComparison.Ordinal)),
        "count" => new Callable((a, _) => (long)Count(s, Str(Arg(a, 0, name)))),
        "join" => new Callable((a, _) => string.Join(s, Values.Iterate(Arg(a, 0, name)).Select(Values.Str))),
        "splitlines" => new Callable((_, _) => Filters.SplitLines(s).Cast<object?>().ToList()),
        "isdigit" => new Callable((_, _) => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => new Callable((_, _) => s.Length > 0 && s.All(char.IsLetter)),
        "isspace" => new Callable((_, _) => s.Length > 0 && s.All(char.IsWhiteSpace)),
        _ => Undefined.Instance,
    };

    private static object? Arg(List<object?> args, int i, string method) =>
        i < args.Count ? args[i] : throw new InvalidOperationException($"{method}() is missing argument {i + 1}");

    private static object? Opt(List<object?> args, Dictionary<string, object?> kwargs, int i, string name) =>
        i < args.Count ? args[i] : kwargs.TryGetValue(name, out object? v) ? v : null;

    private static string Str(object? v) => v is string s ? s : throw new InvalidOperationException($"expected a string argument, got {Values.TypeName(v)}");

    private static IEnumerable<string> Affixes(object? arg) => arg switch
    {
        string s => [s],
        List<object?> l => l.Select(Str),
        _ => throw new InvalidOperationException($"startswith/endswith take a string or a tuple of strings, not {Values.TypeName(arg)}"),
    };

    /// <summary>Python's str.split: on runs of whitespace (dropping empties) without a separator, else on the separator.</summary>
    public static List<object?> Split(string s, object? sep, long maxSplit)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit) { parts.Add(s[i..].TrimEnd()); break; }
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        string separator = Str(sep);
        if (separator.Length == 0) throw new InvalidOperationException("split(): empty separator");
        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0) break;
            parts.Add(s[from..at]);
            from = at + separator.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    /// <summary>Python's strip family: whitespace without <paramref name="chars"/>, else any of those characters.</summary>
    public static string Strip(string s, object? chars, bool left, bool right)
    {
        Func<char, bool> drop = chars is null ? char.IsWhiteSpace : Str(chars) is var set ? set.Contains : _ => false;
        int start = 0, end = s.Length;
        if (left) while (start < end && drop(s[start])) start++;
        if (right) while (end > start && drop(s[end - 1])) end--;
        return s[start..end];
    }

    private static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertEverywhere(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count && old.Length > 0; n++)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0) break;
            sb.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return sb.Append(s, from, s.Length - from).ToString();
    }

    private static string InsertEverywhere(string s, string insert) =>
        insert + string.Concat(s.Select(c => c + insert));

    private static int Count(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Python's str.title(): a letter after a non-letter is upper-cased, others lower-cased.</summary>
    public static string PythonTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            sb.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpper(s[0], CultureInfo.InvariantCulture) + s[1..].ToLowerInvariant();
}
