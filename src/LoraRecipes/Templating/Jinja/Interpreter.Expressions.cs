namespace LoraRecipes.Templating.Jinja;

internal sealed partial class Interpreter
{
    public object? Eval(Expr expr, Scope scope) => expr switch
    {
        Literal l => l.Value,
        NameExpr n => scope.Lookup(n.Name),
        AttrExpr a => Guard(() => Members.GetAttribute(Eval(a.Target, scope), a.Name), a.Offset),
        ItemExpr i => EvalItem(Eval(i.Target, scope), Eval(i.Key, scope), i.Offset),
        SliceExpr s => EvalSlice(s, scope),
        CallExpr c => EvalCall(c, scope),
        FilterExpr f => ApplyFilter(f.Name, Eval(f.Value, scope), f.Args, scope, f.Offset),
        TestExpr t => ApplyTest(t, scope),
        BinaryExpr b => EvalBinary(b, scope),
        UnaryExpr u => EvalUnary(u, scope),
        CondExpr c => Values.Truthy(Eval(c.Condition, scope)) ? Eval(c.Then, scope) : c.Else is null ? Undefined.Instance : Eval(c.Else, scope),
        ListExpr l => l.Items.Select(item => Eval(item, scope)).ToList(),
        DictExpr d => d.Items.Aggregate(new Dictionary<string, object?>(StringComparer.Ordinal),
            (dict, kv) => { dict[Values.Str(Eval(kv.Key, scope))] = Eval(kv.Value, scope); return dict; }),
        _ => throw Error($"unknown expression {expr.GetType().Name}", expr.Offset),
    };

    private object? EvalItem(object? target, object? key, int offset) => Guard(() => target switch
    {
        List<object?> list when key is long or bool => Index(list.Count, Values.ToDouble(key)) is int at ? list[at] : Undefined.Instance,
        string s when key is long or bool => Values.Characters(s) is var chars && Index(chars.Count, Values.ToDouble(key)) is int at ? chars[at] : Undefined.Instance,
        Dictionary<string, object?> d => d.TryGetValue(Values.Str(key), out object? v) ? v : Undefined.Instance,
        Namespace ns => ns.Attributes.TryGetValue(Values.Str(key), out object? v) ? v : Undefined.Instance,
        null or Undefined => Undefined.Instance,
        _ => key is string name ? Members.GetAttribute(target, name) : Undefined.Instance,
    }, offset);

    /// <summary>A Python index (negative counts from the end); null when out of range.</summary>
    private static int? Index(int count, double key)
    {
        long i = (long)key;
        if (i < 0) i += count;
        return i >= 0 && i < count ? (int)i : null;
    }

    private object? EvalSlice(SliceExpr s, Scope scope)
    {
        object? target = Eval(s.Target, scope);
        long? Part(Expr? e) => e is null ? null : Eval(e, scope) switch
        {
            null or Undefined => null,
            long n => n,
            bool b => b ? 1 : 0,
            var other => throw Error($"slice indices must be integers, not {Values.TypeName(other)}", e.Offset),
        };
        long? start = Part(s.Start), stop = Part(s.Stop), step = Part(s.Step);
        if (step == 0) throw Error("slice step cannot be zero", s.Offset);
        return target switch
        {
            List<object?> list => Slice(list, start, stop, step ?? 1),
            string str => string.Concat(Slice(Values.Characters(str), start, stop, step ?? 1).Cast<string>()),
            null or Undefined => Undefined.Instance,
            _ => throw Error($"'{Values.TypeName(target)}' object is not subscriptable", s.Offset),
        };
    }

    /// <summary>Python's list[start:stop:step], negative steps included ([::-1] reverses).</summary>
    private static List<object?> Slice(List<object?> items, long? start, long? stop, long step)
    {
        int n = items.Count;
        long Clamp(long? v, long whenNull, long lo, long hi)
        {
            if (v is not { } x) return whenNull;
            if (x < 0) x += n;
            return Math.Clamp(x, lo, hi);
        }
        var result = new List<object?>();
        if (step > 0)
        {
            for (long i = Clamp(start, 0, 0, n), end = Clamp(stop, n, 0, n); i < end; i += step) result.Add(items[(int)i]);
        }
        else
        {
            for (long i = Clamp(start, n - 1, -1, n - 1), end = Clamp(stop, -1, -1, n - 1); i > end; i += step) result.Add(items[(int)i]);
        }
        return result;
    }

    private object? EvalCall(CallExpr c, Scope scope)
    {
        object? callee = Eval(c.Callee, scope);
        (List<object?> args, Dictionary<string, object?> kwargs) = EvalArguments(c.Args, scope);
        return callee switch
        {
            Macro m => CallMacro(m, args, kwargs, c.Offset),
            Callable f => CallBuiltin(f, args, kwargs, c.Offset),
            Undefined => throw Error($"'{Describe(c.Callee)}' is undefined and cannot be called", c.Offset),
            _ => throw Error($"'{Describe(c.Callee)}' ({Values.TypeName(callee)}) is not callable", c.Offset),
        };
    }

    private object? CallBuiltin(Callable f, List<object?> args, Dictionary<string, object?> kwargs, int offset)
    {
        try
        {
            return Guard(() => f(args, kwargs), offset);
        }
        catch (TemplateRaise raise)
        {
            throw Error(raise.Message, offset, raised: true);
        }
    }

    private static string Describe(Expr e) => e switch
    {
        NameExpr n => n.Name,
        AttrExpr a => Describe(a.Target) + "." + a.Name,
        _ => "expression",
    };

    internal (List<object?> Args, Dictionary<string, object?> Kwargs) EvalArguments(Arguments a, Scope scope)
    {
        var args = a.Positional.Select(e => Eval(e, scope)).ToList();
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach ((string name, Expr value) in a.Keywords) kwargs[name] = Eval(value, scope);
        return (args, kwargs);
    }

    private object? EvalUnary(UnaryExpr u, Scope scope)
    {
        object? v = Eval(u.Operand, scope);
        return u.Op switch
        {
            "not" => !Values.Truthy(v),
            "-" => v switch
            {
                long n => (object)checked(-n),
                double d => -d,
                bool b => b ? -1L : 0L,
                _ => throw Error($"bad operand type for unary -: '{Values.TypeName(v)}'", u.Offset),
            },
            _ => Values.IsNumber(v) ? v is bool b2 ? (b2 ? 1L : 0L) : v : throw Error($"bad operand type for unary +: '{Values.TypeName(v)}'", u.Offset),
        };
    }

    private object? EvalBinary(BinaryExpr b, Scope scope)
    {
        object? left = Eval(b.Left, scope);
        switch (b.Op)
        {
            case "and": return Values.Truthy(left) ? Eval(b.Right, scope) : left;
            case "or": return Values.Truthy(left) ? left : Eval(b.Right, scope);
        }
        object? right = Eval(b.Right, scope);
        return b.Op switch
        {
            "==" => Values.Equal(left, right),
            "!=" => !Values.Equal(left, right),
            "<" => Guard(() => Values.Compare(left, right) < 0, b.Offset),
            "<=" => Guard(() => Values.Compare(left, right) <= 0, b.Offset),
            ">" => Guard(() => Values.Compare(left, right) > 0, b.Offset),
            ">=" => Guard(() => Values.Compare(left, right) >= 0, b.Offset),
            "in" => Guard(() => Contains(right, left), b.Offset),
            "not in" => Guard(() => !Contains(right, left), b.Offset),
            "~" => Concat(Values.Str(left), Values.Str(right), b.Offset),
            _ => Guard(() => Arithmetic.Apply(b.Op, left, right, this, b.Offset), b.Offset),
        };
    }

    private string Concat(string a, string b, int offset)
    {
        if ((long)a.Length + b.Length > limits.MaxOutputChars) throw Error($"string exceeds {limits.MaxOutputChars} characters", offset);
        return a + b;
    }

    internal static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw new InvalidOperationException($"'in <string>' requires string as left operand, not {Values.TypeName(item)}"),
        List<object?> l => l.Any(x => Values.Equal(x, item)),
        Dictionary<string, object?> d => item is string key && d.ContainsKey(key),
        Namespace ns => item is string key && ns.Attributes.ContainsKey(key),
        Undefined => false,
        _ => throw new InvalidOperationException($"argument of type '{Values.TypeName(container)}' is not iterable"),
    };

    internal object? ApplyFilter(string name, object? value, Arguments args, Scope scope, int offset)
    {
        (List<object?> a, Dictionary<string, object?> kw) = EvalArguments(args, scope);
        return ApplyFilter(name, value, a, kw, offset);
    }

    internal object? ApplyFilter(string name, object? value, List<object?> args, Dictionary<string, object?> kwargs, int offset) =>
        Filters.Table.TryGetValue(name, out Filter? filter)
            ? Guard(() => filter(this, value, args, kwargs, offset), offset)
            : throw Error($"unknown filter '{name}' (supported: {string.Join(", ", Filters.Table.Keys.Order())})", offset);

    private bool ApplyTest(TestExpr t, Scope scope)
    {
        object? value = Eval(t.Value, scope);
        (List<object?> args, _) = EvalArguments(t.Args, scope);
        return ApplyTest(t.Name, value, args, t.Offset) != t.Negated;
    }

    internal bool ApplyTest(string name, object? value, List<object?> args, int offset) =>
        Predicates.Table.TryGetValue(name, out TestFunction? test)
            ? Guard(() => test(value, args), offset)
            : throw Error($"unknown test '{name}' (supported: {string.Join(", ", Predicates.Table.Keys.Order())})", offset);
}

/// <summary>Thrown by <c>raise_exception</c>; becomes a <see cref="JinjaException"/> at the call's position.</summary>
internal sealed class TemplateRaise(string message) : Exception(message);
