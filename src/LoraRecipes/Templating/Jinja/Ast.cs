namespace LoraRecipes.Templating.Jinja;

// The syntax tree. Every node keeps the source offset it starts at, so runtime errors name a line and column.

/// <summary>A node of the syntax tree.</summary>
internal abstract record Node(int Offset);

/// <summary>An expression.</summary>
internal abstract record Expr(int Offset) : Node(Offset);

internal sealed record Literal(int Offset, object? Value) : Expr(Offset);

internal sealed record NameExpr(int Offset, string Name) : Expr(Offset);

/// <summary><c>a.b</c></summary>
internal sealed record AttrExpr(int Offset, Expr Target, string Name) : Expr(Offset);

/// <summary><c>a[b]</c></summary>
internal sealed record ItemExpr(int Offset, Expr Target, Expr Key) : Expr(Offset);

/// <summary><c>a[start:stop:step]</c>, each part optional.</summary>
internal sealed record SliceExpr(int Offset, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Offset);

/// <summary>Positional and keyword arguments of a call, filter or test.</summary>
internal sealed record Arguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Keywords)
{
    public static Arguments None { get; } = new([], []);
}

internal sealed record CallExpr(int Offset, Expr Callee, Arguments Args) : Expr(Offset);

/// <summary><c>value | name(args)</c></summary>
internal sealed record FilterExpr(int Offset, Expr Value, string Name, Arguments Args) : Expr(Offset);

/// <summary><c>value is [not] name(args)</c></summary>
internal sealed record TestExpr(int Offset, Expr Value, string Name, Arguments Args, bool Negated) : Expr(Offset);

/// <summary>Binary operators: or and == != &lt; &lt;= &gt; &gt;= in "not in" + - * / // % ** ~</summary>
internal sealed record BinaryExpr(int Offset, string Op, Expr Left, Expr Right) : Expr(Offset);

/// <summary>Unary operators: not, -, +</summary>
internal sealed record UnaryExpr(int Offset, string Op, Expr Operand) : Expr(Offset);

/// <summary><c>a if cond else b</c>; without <c>else</c>, undefined.</summary>
internal sealed record CondExpr(int Offset, Expr Condition, Expr Then, Expr? Else) : Expr(Offset);

internal sealed record ListExpr(int Offset, IReadOnlyList<Expr> Items) : Expr(Offset);

internal sealed record DictExpr(int Offset, IReadOnlyList<(Expr Key, Expr Value)> Items) : Expr(Offset);

/// <summary>A statement.</summary>
internal abstract record Stmt(int Offset) : Node(Offset);

internal sealed record TextStmt(int Offset, string Text) : Stmt(Offset);

/// <summary><c>{{ expr }}</c></summary>
internal sealed record PrintStmt(int Offset, Expr Value) : Stmt(Offset);

/// <summary><c>if</c> with its <c>elif</c> branches folded into nested Else bodies.</summary>
internal sealed record IfStmt(int Offset, Expr Condition, IReadOnlyList<Stmt> Then, IReadOnlyList<Stmt> Else) : Stmt(Offset);

/// <summary><c>for targets in iterable [if filter]</c> … <c>[else]</c> … <c>endfor</c></summary>
internal sealed record ForStmt(int Offset, IReadOnlyList<string> Targets, Expr Iterable, Expr? Filter,
    IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else) : Stmt(Offset);

/// <summary><c>set a = expr</c>, <c>set a, b = expr</c>, <c>set ns.attr = expr</c> (Attribute non-null).</summary>
internal sealed record SetStmt(int Offset, IReadOnlyList<string> Targets, string? Attribute, Expr Value) : Stmt(Offset);

/// <summary><c>set a</c> … <c>endset</c>: captures the rendered body.</summary>
internal sealed record SetBlockStmt(int Offset, string Target, IReadOnlyList<Stmt> Body) : Stmt(Offset);

internal sealed record MacroParam(string Name, Expr? Default);

internal sealed record MacroStmt(int Offset, string Name, IReadOnlyList<MacroParam> Params, IReadOnlyList<Stmt> Body) : Stmt(Offset);

/// <summary><c>break</c> or <c>continue</c> (transformers enables the loopcontrols extension).</summary>
internal sealed record LoopControlStmt(int Offset, bool IsBreak) : Stmt(Offset);

/// <summary><c>filter name</c> … <c>endfilter</c>: the body rendered, then filtered.</summary>
internal sealed record FilterBlockStmt(int Offset, string Name, Arguments Args, IReadOnlyList<Stmt> Body) : Stmt(Offset);

/// <summary>
/// transformers' <c>{% generation %}</c> … <c>{% endgeneration %}</c>: marks assistant text; renders its body.
/// </summary>
internal sealed record GenerationStmt(int Offset, IReadOnlyList<Stmt> Body) : Stmt(Offset);
