namespace LoraRecipes.Templating.Jinja;

/// <summary>What a lexed token is.</summary>
internal enum TokenKind
{
    /// <summary>Literal template text, whitespace control already applied.</summary>
    Text,
    /// <summary><c>{{</c></summary>
    PrintOpen,
    /// <summary><c>}}</c></summary>
    PrintClose,
    /// <summary><c>{%</c></summary>
    BlockOpen,
    /// <summary><c>%}</c></summary>
    BlockClose,
    Name,
    String,
    Integer,
    Float,
    /// <summary>Punctuation and operators: ( ) [ ] { } . , : | ~ + - * / // % ** == != &lt; &lt;= &gt; &gt;= = </summary>
    Operator,
    End,
}

/// <summary>One token and where it starts in the template source.</summary>
internal readonly record struct Token(TokenKind Kind, string Value, int Offset)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string value) => Kind == TokenKind.Name && Value == value;

    public bool IsOp(string value) => Kind == TokenKind.Operator && Value == value;

    public override string ToString() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.Text => "text",
        TokenKind.String => $"string '{Value}'",
        _ => $"'{Value}'",
    };
}
