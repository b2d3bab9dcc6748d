using System.Globalization;
using System.Text;

namespace LoraRecipes.Templating.Jinja;

// Runtime values are plain CLR objects, as Python's are for Jinja2:
//   null = None · Undefined.Instance · bool · long (int) · double (float) · string
//   List<object?> (list and tuple) · Dictionary<string, object?> (dict; insertion-ordered while nothing is removed)
//   Namespace · Macro · Callable (a built-in function or a bound method).

/// <summary>Jinja's undefined: empty when printed, false when tested, an error when used in arithmetic.</summary>
public sealed class Undefined
{
    private Undefined() { }

    public static Undefined Instance { get; } = new();

    public override string ToString() => "";
}

/// <summary><c>namespace(...)</c>: a mutable attribute bag whose attributes <c>{% set ns.x = … %}</c> can change from inside loops.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A function callable from the template: positional and keyword arguments in, a value out.</summary>
internal delegate object? Callable(List<object?> args, Dictionary<string, object?> kwargs);

/// <summary>A macro defined by the template, with the scope it was defined in.</summary>
internal sealed record Macro(MacroStmt Definition, Scope Closure);

/// <summary>Python's semantics for truth, printing, equality and ordering of runtime values.</summary>
internal static class Values
{
    public static bool IsUndefined(object? v) => v is Undefined;

    /// <summary>Python's truth: None, undefined, False, 0, 0.0, "" and empty containers are false.</summary>
    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long n => n != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    /// <summary>str(value) as Python writes it (True, None, 1.0, ['a', 1], {'k': 'v'}); undefined is "".</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v),
    };

    /// <summary>repr(value) as Python writes it.</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > 64) { sb.Append("..."); return; }
        switch (v)
        {
            case null: sb.Append("None"); break;
            case Undefined: break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long n: sb.Append(n.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case string s: sb.Append(StringRepr(s)); break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, list[i], depth + 1);
                }
                sb.Append(']');
                break;
            case Dictionary<string, object?> dict:
                sb.Append('{');
                bool first = true;
                foreach ((string key, object? value) in dict)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    sb.Append(StringRepr(key)).Append(": ");
                    AppendRepr(sb, value, depth + 1);
                }
                sb.Append('}');
                break;
            case Namespace: sb.Append("<Namespace>"); break;
            case Macro m: sb.Append("<Macro '").Append(m.Definition.Name).Append("'>"); break;
            default: sb.Append("<function>"); break;
        }
    }

    /// <summary>Python's float repr: shortest round-trip digits, ".0" on integral values, inf/nan spelled out.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        if (r.Contains('E'))
        {
            // Python writes 1e+20 / 1e-05 where .NET writes 1E+20 / 1E-05.
            int e = r.IndexOf('E');
            string mantissa = r[..e];
            int exponent = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
            return $"{mantissa}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}";
        }
        return r.Contains('.') ? r : r + ".0";
    }

    private static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append($"\\x{(int)c:x2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }

    /// <summary>Python's ==: numbers across int/float, strings ordinal, containers element-wise.</summary>
    public static bool Equal(object? a, object? b)
    {
        switch (a, b)
        {
            case (null, null): return true;
            case (Undefined, Undefined): return true;
            case (bool x, bool y): return x == y;
            case (string x, string y): return string.Equals(x, y, StringComparison.Ordinal);
            case (List<object?> x, List<object?> y):
                if (x.Count != y.Count) return false;
                for (int i = 0; i < x.Count; i++) if (!Equal(x[i], y[i])) return false;
                return true;
            case (Dictionary<string, object?> x, Dictionary<string, object?> y):
                return x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out object? other) && Equal(kv.Value, other));
        }
        if (IsNumber(a) && IsNumber(b)) return a is long la && b is long lb ? la == lb : ToDouble(a) == ToDouble(b);
        return ReferenceEquals(a, b);
    }

    /// <summary>Numbers include bool (Python's bool is an int).</summary>
    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long n => n,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    /// <summary>Ordering for &lt; &gt; and sort: numbers with numbers, strings with strings (ordinal), lists element-wise.</summary>
    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
            return a is long la && b is long lb ? la.CompareTo(lb) : ToDouble(a).CompareTo(ToDouble(b));
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb) switch { < 0 => -1, > 0 => 1, _ => 0 };
        if (a is List<object?> xa && b is List<object?> xb)
        {
            for (int i = 0; i < Math.Min(xa.Count, xb.Count); i++)
            {
                int c = Compare(xa[i], xb[i]);
                if (c != 0) return c;
            }
            return xa.Count.CompareTo(xb.Count);
        }
        throw new InvalidOperationException($"cannot compare {TypeName(a)} with {TypeName(b)}");
    }

    /// <summary>Python's type name, for error messages.</summary>
    public static string TypeName(object? v) => v switch
    {
        null => "None",
        Undefined => "undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        Namespace => "namespace",
        Macro => "macro",
        _ => "function",
    };

    /// <summary>The items a for loop walks: a list's items, a dict's keys, a string's characters.</summary>
    public static List<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        Dictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => Characters(s),
        Undefined => [],
        _ => throw new InvalidOperationException($"'{TypeName(v)}' object is not iterable"),
    };

    /// <summary>A string's characters as Python counts them (a surrogate pair is one character).</summary>
    public static List<object?> Characters(string s)
    {
        var list = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { list.Add(s.Substring(i, 2)); i++; }
            else list.Add(s[i].ToString());
        }
        return list;
    }

    /// <summary>len(): characters of a string (surrogate pairs count once), items of a list, keys of a dict.</summary>
    public static long Length(object? v) => v switch
    {
        string s => s.Length - s.Count(char.IsLowSurrogate),
        List<object?> l => l.Count,
        Dictionary<string, object?> d => d.Count,
        Namespace n => n.Attributes.Count,
        Undefined => 0,
        _ => throw new InvalidOperationException($"object of type '{TypeName(v)}' has no length"),
    };
}
