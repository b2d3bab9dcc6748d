namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// A template that cannot be parsed or rendered: a syntax error, a runtime error (an undefined value used in
/// arithmetic, a call of something not callable), a limit reached, or <c>raise_exception(...)</c> called by the
/// template itself. The message names the template's line and column.
/// </summary>
public sealed class JinjaException(string message, int line, int column, bool raisedByTemplate = false)
    : Exception($"chat template line {line}, column {column}: {message}")
{
    /// <summary>1-based line of the construct that failed.</summary>
    public int Line { get; } = line;

    /// <summary>1-based column of the construct that failed.</summary>
    public int Column { get; } = column;

    /// <summary>The message without the position.</summary>
    public string Reason { get; } = message;

    /// <summary>True when the template called <c>raise_exception</c> (the conversation is one it refuses).</summary>
    public bool RaisedByTemplate { get; } = raisedByTemplate;
}

/// <summary>
/// Bounds that make a hostile template fail cleanly instead of exhausting memory, time or the stack.
/// </summary>
public sealed record JinjaLimits
{
    /// <summary>Characters the rendered text may reach.</summary>
    public int MaxOutputChars { get; init; } = 4 << 20;

    /// <summary>Loop iterations in one render, all loops together (range() sizes count too).</summary>
    public int MaxLoopIterations { get; init; } = 1_000_000;

    /// <summary>Nested macro calls.</summary>
    public int MaxCallDepth { get; init; } = 64;

    /// <summary>Nesting of expressions and blocks the parser accepts.</summary>
    public int MaxNesting { get; init; } = 128;

    /// <summary>The defaults.</summary>
    public static JinjaLimits Default { get; } = new();
}
