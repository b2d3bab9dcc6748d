namespace LoraRecipes.Templating.Jinja;

/// <summary>A Jinja test (<c>value is name(args)</c>).</summary>
internal delegate bool TestFunction(object? value, List<object?> args);

/// <summary>The tests chat templates use, with Jinja2's meanings.</summary>
internal static class Predicates
{
    public static readonly Dictionary<string, TestFunction> Table = new(StringComparer.Ordinal)
    {
        ["defined"] = (v, _) => v is not Undefined,
        ["undefined"] = (v, _) => v is Undefined,
        ["none"] = (v, _) => v is null,
        ["string"] = (v, _) => v is string,
        ["number"] = (v, _) => v is long or double,
        ["integer"] = (v, _) => v is long,
        ["float"] = (v, _) => v is double,
        ["boolean"] = (v, _) => v is bool,
        ["true"] = (v, _) => v is true,
        ["false"] = (v, _) => v is false,
        ["mapping"] = (v, _) => v is Dictionary<string, object?> or Namespace,
        ["iterable"] = (v, _) => v is string or List<object?> or Dictionary<string, object?>,
        ["sequence"] = (v, _) => v is string or List<object?> or Dictionary<string, object?>,
        ["callable"] = (v, _) => v is Callable or Macro,
        ["odd"] = (v, _) => Integer(v) % 2 != 0,
        ["even"] = (v, _) => Integer(v) % 2 == 0,
        ["divisibleby"] = (v, a) => Integer(v) % Integer(Arg(a)) == 0,
        ["equalto"] = (v, a) => Values.Equal(v, Arg(a)),
        ["eq"] = (v, a) => Values.Equal(v, Arg(a)),
        ["=="] = (v, a) => Values.Equal(v, Arg(a)),
        ["ne"] = (v, a) => !Values.Equal(v, Arg(a)),
        ["!="] = (v, a) => !Values.Equal(v, Arg(a)),
        ["lt"] = (v, a) => Values.Compare(v, Arg(a)) < 0,
        ["le"] = (v, a) => Values.Compare(v, Arg(a)) <= 0,
        ["gt"] = (v, a) => Values.Compare(v, Arg(a)) > 0,
        ["ge"] = (v, a) => Values.Compare(v, Arg(a)) >= 0,
        ["greaterthan"] = (v, a) => Values.Compare(v, Arg(a)) > 0,
        ["lessthan"] = (v, a) => Values.Compare(v, Arg(a)) < 0,
        ["in"] = (v, a) => Interpreter.Contains(Arg(a), v),
        ["sameas"] = (v, a) => v is null ? Arg(a) is null : v is bool b ? Arg(a) is bool c && b == c : ReferenceEquals(v, Arg(a)),
        ["lower"] = (v, _) => v is string s && s == s.ToLowerInvariant(),
        ["upper"] = (v, _) => v is string s && s == s.ToUpperInvariant(),
    };

    private static object? Arg(List<object?> args) =>
        args.Count > 0 ? args[0] : throw new InvalidOperationException("this test needs an argument");

    private static long Integer(object? v) => v switch
    {
        long n => n,
        bool b => b ? 1 : 0,
        double d when d == Math.Floor(d) => (long)d,
        _ => throw new InvalidOperationException($"expected an integer, got {Values.TypeName(v)}"),
    };
}
