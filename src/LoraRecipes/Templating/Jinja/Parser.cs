
namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// Recursive-descent parser from tokens to statements. Expression precedence follows Jinja2's parser, loosest
/// first: ternary <c>if/else</c>, <c>or</c>, <c>and</c>, <c>not</c>, comparisons (== != &lt; &lt;= &gt; &gt;= in, not in),
/// <c>+ -</c>, <c>~</c>, <c>* / // %</c>, <c>**</c>, unary <c>- +</c>, then postfix (<c>.attr</c>, <c>[key]</c>, calls) with
/// filters (<c>|f</c>) and tests (<c>is t</c>) binding tightest after a primary.
/// </summary>
internal sealed partial class Parser
{
    private readonly string _source;
    private readonly List<Token> _tokens;
    private readonly JinjaLimits _limits;
    private int _i;
    private int _depth;

    private Parser(string source, List<Token> tokens, JinjaLimits limits) => (_source, _tokens, _limits) = (source, tokens, limits);

    public static IReadOnlyList<Stmt> Parse(string source, JinjaLimits limits)
    {
        var parser = new Parser(source, Lexer.Tokenize(source), limits);
        var body = parser.ParseBody(out string? end);
        if (end is not null) throw parser.Error($"unexpected '{{% {end} %}}' with no block open", parser.Previous.Offset);
        return body;
    }

    private Token Current => _tokens[_i];
    private Token Previous => _tokens[Math.Max(0, _i - 1)];
    private Token Next() => _tokens[_i++];

    // ---- statements ------------------------------------------------------------------------------------------

    /// <summary>Statements up to an end keyword (<c>endif</c>, <c>elif</c>, <c>else</c>, …) or the end of the template.</summary>
    private List<Stmt> ParseBody(out string? endKeyword, params string[] ends)
    {
        Enter(Current.Offset);
        var body = new List<Stmt>();
        while (true)
        {
            Token t = Current;
            switch (t.Kind)
            {
                case TokenKind.End:
                    endKeyword = null;
                    _depth--;
                    return body;
                case TokenKind.Text:
                    _i++;
                    body.Add(new TextStmt(t.Offset, t.Value));
                    break;
                case TokenKind.PrintOpen:
                    _i++;
                    body.Add(new PrintStmt(t.Offset, ParseExpression()));
                    Expect(TokenKind.PrintClose, "}}");
                    break;
                case TokenKind.BlockOpen:
                    _i++;
                    Token keyword = Current;
                    if (keyword.Kind != TokenKind.Name) throw Error($"expected a statement name after '{{%', found {keyword}", keyword.Offset);
                    if (ends.Contains(keyword.Value) || keyword.Value.StartsWith("end", StringComparison.Ordinal) || keyword.Value is "elif" or "else")
                    {
                        _i++;
                        endKeyword = keyword.Value;
                        _depth--;
                        return body;
                    }
                    body.Add(ParseStatement(t.Offset));
                    break;
                default:
                    throw Error($"unexpected {t}", t.Offset);
            }
        }
    }

    private Stmt ParseStatement(int open)
    {
        Token keyword = Next();
        switch (keyword.Value)
        {
            case "if": return ParseIf(open);
            case "for": return ParseFor(open);
            case "set": return ParseSet(open);
            case "macro": return ParseMacro(open);
            case "break" or "continue":
                CloseBlock();
                return new LoopControlStmt(open, keyword.Value == "break");
            case "filter": return ParseFilterBlock(open);
            case "generation":
                CloseBlock();
                return new GenerationStmt(open, ParseBlockBody("generation", "endgeneration"));
            default:
                throw Error($"'{{% {keyword.Value} %}}' is not supported by this chat-template engine "
                    + "(supported: if, for, set, macro, filter, break, continue, generation)", keyword.Offset);
        }
    }

    private IfStmt ParseIf(int open)
    {
        Expr condition = ParseExpression();
        CloseBlock();
        var then = ParseBody(out string? end, "elif", "else", "endif");
        IReadOnlyList<Stmt> otherwise = [];
        switch (end)
        {
            case "elif":
                otherwise = [ParseIf(Previous.Offset)];
                return new IfStmt(open, condition, then, otherwise);
            case "else":
                CloseBlock();
                otherwise = ParseBlockBody("if", "endif");
                break;
            case "endif":
                CloseBlock();
                break;
            default:
                throw Unclosed("if", "endif", open, end);
        }
        return new IfStmt(open, condition, then, otherwise);
    }

    private ForStmt ParseFor(int open)
    {
        var targets = new List<string> { ExpectName() };
        while (Current.IsOp(","))
        {
            _i++;
            targets.Add(ExpectName());
        }
        if (!Current.IsName("in")) throw Error($"expected 'in' in for loop, found {Current}", Current.Offset);
        _i++;
        Expr iterable = ParseExpression(allowConditional: false);
        Expr? filter = null;
        if (Current.IsName("if"))
        {
            _i++;
            filter = ParseExpression(allowConditional: false);
        }
        if (Current.IsName("recursive")) throw Error("recursive for loops are not supported", Current.Offset);
        CloseBlock();
        var body = ParseBody(out string? end, "else", "endfor");
        IReadOnlyList<Stmt> otherwise = [];
        if (end == "else")
        {
            CloseBlock();
            otherwise = ParseBlockBody("for", "endfor");
        }
        else if (end == "endfor") CloseBlock();
        else throw Unclosed("for", "endfor", open, end);
        return new ForStmt(open, targets, iterable, filter, body, otherwise);
    }

    private Stmt ParseSet(int open)
    {
        var targets = new List<string> { ExpectName() };
        string? attribute = null;
        if (Current.IsOp("."))
        {
            _i++;
            attribute = ExpectName();
        }
        while (attribute is null && Current.IsOp(","))
        {
            _i++;
            targets.Add(ExpectName());
        }
        if (Current.Kind == TokenKind.BlockClose && attribute is null && targets.Count == 1)
        {
            CloseBlock();
            return new SetBlockStmt(open, targets[0], ParseBlockBody("set", "endset"));
        }
        if (!Current.IsOp("=")) throw Error($"expected '=' in set, found {Current}", Current.Offset);
        _i++;
        Expr value = ParseTuple();
        CloseBlock();
        return new SetStmt(open, targets, attribute, value);
    }

    private MacroStmt ParseMacro(int open)
    {
        string name = ExpectName();
        Expect(TokenKind.Operator, "(");
        var parameters = new List<MacroParam>();
        while (!Current.IsOp(")"))
        {
            string param = ExpectName();
            Expr? fallback = null;
            if (Current.IsOp("="))
            {
                _i++;
                fallback = ParseExpression();
            }
            parameters.Add(new MacroParam(param, fallback));
            if (!Current.IsOp(",")) break;
            _i++;
        }
        Expect(TokenKind.Operator, ")");
        CloseBlock();
        return new MacroStmt(open, name, parameters, ParseBlockBody("macro", "endmacro"));
    }

    private FilterBlockStmt ParseFilterBlock(int open)
    {
        string name = ExpectName();
        Arguments args = Current.IsOp("(") ? ParseCallArguments() : Arguments.None;
        CloseBlock();
        return new FilterBlockStmt(open, name, args, ParseBlockBody("filter", "endfilter"));
    }

    /// <summary>A body that must end with <paramref name="end"/> and nothing else.</summary>
    private List<Stmt> ParseBlockBody(string block, string end)
    {
        int open = Previous.Offset;
        var body = ParseBody(out string? found, end);
        if (found != end) throw Unclosed(block, end, open, found);
        CloseBlock();
        return body;
    }

    private JinjaException Unclosed(string block, string end, int open, string? found) => found is null
        ? Error($"'{{% {block} %}}' is never closed: expected '{{% {end} %}}' before the end of the template", open)
        : Error($"unexpected '{{% {found} %}}' inside '{{% {block} %}}' (expected '{{% {end} %}}')", Previous.Offset);

    private void CloseBlock() => Expect(TokenKind.BlockClose, "%}");

    // ---- helpers ---------------------------------------------------------------------------------------------

    private string ExpectName()
    {
        Token t = Next();
        return t.Kind == TokenKind.Name ? t.Value : throw Error($"expected a name, found {t}", t.Offset);
    }

    private void Expect(TokenKind kind, string value)
    {
        Token t = Current;
        if (t.Kind != kind || t.Value != value) throw Error($"expected '{value}', found {t}", t.Offset);
        _i++;
    }

    private void Enter(int offset)
    {
        if (++_depth > _limits.MaxNesting) throw Error($"template nests deeper than {_limits.MaxNesting} levels", offset);
    }

    private JinjaException Error(string message, int offset) => SourcePosition.Error(_source, offset, message);
}
