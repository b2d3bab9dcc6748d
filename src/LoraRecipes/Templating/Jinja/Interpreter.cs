using System.Text;

namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// Walks the syntax tree and writes the output. Bounded by <see cref="JinjaLimits"/>: output size, loop iterations
/// (all loops of one render together) and macro call depth; expression depth is bounded by the parser.
/// </summary>
internal sealed partial class Interpreter(string source, JinjaLimits limits)
{
    private enum Flow { Normal, Break, Continue }

    private int _iterations;
    private int _callDepth;
    private StringBuilder _root = new();

    /// <summary>[start, end) character ranges of the output rendered inside <c>{% generation %}</c> blocks.</summary>
    public List<(int Start, int End)> GenerationSpans { get; } = [];

    public JinjaLimits Limits => limits;

    public string Render(IReadOnlyList<Stmt> body, Scope scope)
    {
        _root = new StringBuilder();
        Exec(body, scope, _root);
        return _root.ToString();
    }

    // ---- statements ------------------------------------------------------------------------------------------

    private Flow Exec(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (Stmt stmt in body)
        {
            Flow flow = Exec(stmt, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Exec(Stmt stmt, Scope scope, StringBuilder output)
    {
        switch (stmt)
        {
            case TextStmt t:
                Write(output, t.Text, t.Offset);
                return Flow.Normal;
            case PrintStmt p:
                Write(output, Values.Str(Eval(p.Value, scope)), p.Offset);
                return Flow.Normal;
            case IfStmt i:
                return Exec(Values.Truthy(Eval(i.Condition, scope)) ? i.Then : i.Else, scope, output);
            case ForStmt f:
                ExecFor(f, scope, output);
                return Flow.Normal;
            case SetStmt s:
                ExecSet(s, scope);
                return Flow.Normal;
            case SetBlockStmt sb:
                scope.Set(sb.Target, Capture(sb.Body, scope, sb.Offset));
                return Flow.Normal;
            case MacroStmt m:
                scope.Set(m.Name, new Macro(m, scope));
                return Flow.Normal;
            case LoopControlStmt c:
                return c.IsBreak ? Flow.Break : Flow.Continue;
            case FilterBlockStmt fb:
                object? filtered = ApplyFilter(fb.Name, Capture(fb.Body, scope, fb.Offset), fb.Args, scope, fb.Offset);
                Write(output, Values.Str(filtered), fb.Offset);
                return Flow.Normal;
            case GenerationStmt g:
                int start = output.Length;
                Flow flow = Exec(g.Body, scope, output);
                if (ReferenceEquals(output, _root)) GenerationSpans.Add((start, output.Length));
                return flow;
            default:
                throw Error($"unknown statement {stmt.GetType().Name}", stmt.Offset);
        }
    }

    private void ExecFor(ForStmt f, Scope scope, StringBuilder output)
    {
        object? iterable = Eval(f.Iterable, scope);
        List<object?> items = Guard(() => Values.Iterate(iterable), f.Iterable.Offset);
        if (f.Filter is not null)
        {
            items = items.Where(item =>
            {
                var probe = new Scope(scope);
                Bind(probe, f.Targets, item, f.Offset);
                return Values.Truthy(Eval(f.Filter, probe));
            }).ToList();
        }
        if (items.Count == 0)
        {
            Exec(f.Else, scope, output);
            return;
        }
        items = [.. items]; // the body may change the list it walks
        for (int i = 0; i < items.Count; i++)
        {
            CountIteration(f.Offset);
            var inner = new Scope(scope);
            inner.Set("loop", LoopObject(items, i));
            Bind(inner, f.Targets, items[i], f.Offset);
            if (Exec(f.Body, inner, output) == Flow.Break) break;
        }
    }

    private static Dictionary<string, object?> LoopObject(List<object?> items, int i)
    {
        int n = items.Count;
        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["index"] = (long)(i + 1),
            ["index0"] = (long)i,
            ["revindex"] = (long)(n - i),
            ["revindex0"] = (long)(n - i - 1),
            ["first"] = i == 0,
            ["last"] = i == n - 1,
            ["length"] = (long)n,
            ["depth"] = 1L,
            ["depth0"] = 0L,
            ["previtem"] = i > 0 ? items[i - 1] : Undefined.Instance,
            ["nextitem"] = i < n - 1 ? items[i + 1] : Undefined.Instance,
            ["cycle"] = new Callable((args, _) => args.Count == 0 ? Undefined.Instance : args[i % args.Count]),
        };
    }

    private void Bind(Scope scope, IReadOnlyList<string> targets, object? value, int offset)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }
        if (value is not List<object?> parts || parts.Count != targets.Count)
            throw Error($"cannot unpack {Values.TypeName(value)} into {targets.Count} names ({string.Join(", ", targets)})", offset);
        for (int i = 0; i < targets.Count; i++) scope.Set(targets[i], parts[i]);
    }

    private void ExecSet(SetStmt s, Scope scope)
    {
        object? value = Eval(s.Value, scope);
        if (s.Attribute is null)
        {
            Bind(scope, s.Targets, value, s.Offset);
            return;
        }
        if (scope.Lookup(s.Targets[0]) is not Namespace ns)
            throw Error($"cannot set attribute '{s.Attribute}' of '{s.Targets[0]}': only a namespace() takes attribute assignment", s.Offset);
        ns.Attributes[s.Attribute] = value;
    }

    private string Capture(IReadOnlyList<Stmt> body, Scope scope, int offset)
    {
        var sb = new StringBuilder();
        Exec(body, scope, sb);
        return sb.ToString();
    }

    private void Write(StringBuilder output, string text, int offset)
    {
        if (output.Length + text.Length > limits.MaxOutputChars || _root.Length + text.Length > limits.MaxOutputChars)
            throw Error($"output exceeds {limits.MaxOutputChars} characters", offset);
        output.Append(text);
    }

    private void CountIteration(int offset)
    {
        if (++_iterations > limits.MaxLoopIterations) throw Error($"more than {limits.MaxLoopIterations} loop iterations", offset);
    }

    // ---- macros ----------------------------------------------------------------------------------------------

    private string CallMacro(Macro macro, List<object?> args, Dictionary<string, object?> kwargs, int offset)
    {
        MacroStmt m = macro.Definition;
        if (args.Count > m.Params.Count) throw Error($"macro '{m.Name}' takes {m.Params.Count} arguments, {args.Count} given", offset);
        if (++_callDepth > limits.MaxCallDepth) throw Error($"macro calls nest deeper than {limits.MaxCallDepth}", offset);
        try
        {
            var scope = new Scope(macro.Closure);
            for (int i = 0; i < m.Params.Count; i++)
            {
                MacroParam p = m.Params[i];
                object? value = i < args.Count ? args[i]
                    : kwargs.Remove(p.Name, out object? kw) ? kw
                    : p.Default is not null ? Eval(p.Default, scope)
                    : Undefined.Instance;
                scope.Set(p.Name, value);
            }
            if (kwargs.Count > 0) throw Error($"macro '{m.Name}' has no argument '{kwargs.Keys.First()}'", offset);
            return Capture(m.Body, scope, offset);
        }
        finally
        {
            _callDepth--;
        }
    }

    internal JinjaException Error(string message, int offset, bool raised = false) => SourcePosition.Error(source, offset, message, raised);

    /// <summary>Runs a helper, turning its InvalidOperationException into an error at <paramref name="offset"/>.</summary>
    internal T Guard<T>(Func<T> action, int offset)
    {
        try
        {
            return action();
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or OverflowException or InvalidCastException or DivideByZeroException)
        {
            throw Error(ex.Message, offset);
        }
    }
}
