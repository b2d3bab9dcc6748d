namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// A parsed Jinja template, the subset real chat templates use: <c>if/elif/else</c>, <c>for</c> (with
/// <c>loop.*</c>, an <c>if</c> filter, <c>else</c>, <c>break</c>/<c>continue</c>), <c>set</c> (incl. <c>namespace()</c>
/// attributes and block capture), <c>macro</c>, <c>filter</c> blocks, transformers' <c>generation</c> tag; expressions
/// with Python semantics; whitespace control as transformers configures Jinja2 (trim_blocks, lstrip_blocks).
/// Rendering is bounded by <see cref="JinjaLimits"/>; every error is a <see cref="JinjaException"/> naming the
/// template's line and column.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly string _source;
    private readonly IReadOnlyList<Stmt> _body;

    private JinjaTemplate(string source, IReadOnlyList<Stmt> body, JinjaLimits limits) =>
        (_source, _body, Limits) = (source, body, limits);

    /// <summary>The limits every render of this template runs under.</summary>
    public JinjaLimits Limits { get; }

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="JinjaException">A syntax error, with its line and column.</exception>
    public static JinjaTemplate Parse(string source, JinjaLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        limits ??= JinjaLimits.Default;
        return new JinjaTemplate(source, Parser.Parse(source, limits), limits);
    }

    /// <summary>Renders with <paramref name="variables"/> (values as <see cref="JinjaJson.FromJson"/> produces them).</summary>
    /// <exception cref="JinjaException">A runtime error, a limit reached, or <c>raise_exception</c>.</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables, Func<DateTime>? now = null) =>
        RenderWithSpans(variables, now).Text;

    /// <summary>
    /// Renders and also returns the [start, end) character ranges written inside <c>{% generation %}</c> blocks
    /// (transformers' marker of assistant text; empty for templates without it).
    /// </summary>
    public (string Text, IReadOnlyList<(int Start, int End)> GenerationSpans) RenderWithSpans(
        IReadOnlyDictionary<string, object?> variables, Func<DateTime>? now = null)
    {
        var globals = new Scope(null);
        Globals.AddTo(globals, Limits, now ?? (() => DateTime.Now));
        var scope = new Scope(globals);
        foreach ((string name, object? value) in variables) scope.Set(name, value);
        var interpreter = new Interpreter(_source, Limits);
        try
        {
            string text = interpreter.Render(_body, scope);
            return (text, interpreter.GenerationSpans);
        }
        catch (InsufficientExecutionStackException)
        {
            throw SourcePosition.Error(_source, 0, "the template nests too deeply to render");
        }
    }
}
