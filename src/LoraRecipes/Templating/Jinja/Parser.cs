using System.Globalization;

namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// Recursive-descent parser from tokens to statements. Expression precedence follows Jinja2's parser, loosest
/// first: ternary <c>if/else</c>, <c>or</c>, <c>and</c>, <c>not</c>, comparisons (== != &lt; &lt;= &gt; &gt;= in, not in),
/// <c>+ -</c>, <c>~</c>, <c>* / // %</c>, <c>**</c>, unary <c>- +</c>, then postfix (<c>.attr</c>, <c>[key]</c>, calls) with
/// filters (<c>|f</c>) and tests (<c>is t</c>) binding tightest after a primary.
/// </summary>
internal sealed class Parser
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

    // ---- expressions -----------------------------------------------------------------------------------------

    /// <summary><c>a, b</c> without brackets (the right side of set) is a tuple.</summary>
    private Expr ParseTuple()
    {
        Expr first = ParseExpression();
        if (!Current.IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (Current.IsOp(","))
        {
            _i++;
            items.Add(ParseExpression());
        }
        return new ListExpr(first.Offset, items);
    }

    private Expr ParseExpression(bool allowConditional = true)
    {
        Enter(Current.Offset);
        Expr value = ParseOr();
        while (allowConditional && Current.IsName("if"))
        {
            _i++;
            Expr condition = ParseOr();
            Expr? otherwise = null;
            if (Current.IsName("else"))
            {
                _i++;
                otherwise = ParseExpression();
            }
            value = new CondExpr(value.Offset, condition, value, otherwise);
        }
        _depth--;
        return value;
    }

    private Expr ParseOr()
    {
        Expr left = ParseAnd();
        while (Current.IsName("or")) { int at = Next().Offset; left = new BinaryExpr(at, "or", left, ParseAnd()); }
        return left;
    }

    private Expr ParseAnd()
    {
        Expr left = ParseNot();
        while (Current.IsName("and")) { int at = Next().Offset; left = new BinaryExpr(at, "and", left, ParseNot()); }
        return left;
    }

    private Expr ParseNot()
    {
        if (!Current.IsName("not")) return ParseCompare();
        int at = Next().Offset;
        Enter(at);
        Expr operand = ParseNot();
        _depth--;
        return new UnaryExpr(at, "not", operand);
    }

    private static readonly string[] Comparisons = ["==", "!=", "<", "<=", ">", ">="];

    private Expr ParseCompare()
    {
        Expr left = ParseAdditive();
        while (true)
        {
            Token t = Current;
            string? op = t.Kind == TokenKind.Operator && Comparisons.Contains(t.Value) ? t.Value
                : t.IsName("in") ? "in"
                : t.IsName("not") && _tokens[_i + 1].IsName("in") ? "not in"
                : null;
            if (op is null) return left;
            _i += op == "not in" ? 2 : 1;
            left = new BinaryExpr(t.Offset, op, left, ParseAdditive());
        }
    }

    private Expr ParseAdditive()
    {
        Expr left = ParseConcat();
        while (Current.IsOp("+") || Current.IsOp("-")) { Token t = Next(); left = new BinaryExpr(t.Offset, t.Value, left, ParseConcat()); }
        return left;
    }

    private Expr ParseConcat()
    {
        Expr left = ParseMultiplicative();
        while (Current.IsOp("~")) { int at = Next().Offset; left = new BinaryExpr(at, "~", left, ParseMultiplicative()); }
        return left;
    }

    private Expr ParseMultiplicative()
    {
        Expr left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            Token t = Next();
            left = new BinaryExpr(t.Offset, t.Value, left, ParsePower());
        }
        return left;
    }

    private Expr ParsePower()
    {
        Expr left = ParseUnary();
        while (Current.IsOp("**")) { int at = Next().Offset; left = new BinaryExpr(at, "**", left, ParseUnary()); }
        return left;
    }

    private Expr ParseUnary()
    {
        if (Current.IsOp("-") || Current.IsOp("+"))
        {
            Token t = Next();
            Enter(t.Offset);
            Expr operand = ParseUnary();
            _depth--;
            return ParseFiltersAndTests(new UnaryExpr(t.Offset, t.Value, operand));
        }
        return ParseFiltersAndTests(ParsePostfix(ParsePrimary()));
    }

    private Expr ParsePrimary()
    {
        Token t = Next();
        switch (t.Kind)
        {
            case TokenKind.String:
                // Adjacent string literals concatenate, as in Python.
                string text = t.Value;
                while (Current.Kind == TokenKind.String) text += Next().Value;
                return new Literal(t.Offset, text);
            case TokenKind.Integer:
                return long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
                    ? new Literal(t.Offset, n) : throw Error($"integer literal {t.Value} is too large", t.Offset);
            case TokenKind.Float:
                return new Literal(t.Offset, double.Parse(t.Value, CultureInfo.InvariantCulture));
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new Literal(t.Offset, true),
                    "false" or "False" => new Literal(t.Offset, false),
                    "none" or "None" => new Literal(t.Offset, null),
                    _ => new NameExpr(t.Offset, t.Value),
                };
            case TokenKind.Operator when t.Value == "(":
                Enter(t.Offset);
                if (Current.IsOp(")")) { _i++; _depth--; return new ListExpr(t.Offset, []); }
                Expr inner = ParseTuple();
                Expect(TokenKind.Operator, ")");
                _depth--;
                return inner;
            case TokenKind.Operator when t.Value == "[":
                Enter(t.Offset);
                var items = new List<Expr>();
                while (!Current.IsOp("]"))
                {
                    items.Add(ParseExpression());
                    if (!Current.IsOp(",")) break;
                    _i++;
                }
                Expect(TokenKind.Operator, "]");
                _depth--;
                return new ListExpr(t.Offset, items);
            case TokenKind.Operator when t.Value == "{":
                Enter(t.Offset);
                var pairs = new List<(Expr, Expr)>();
                while (!Current.IsOp("}"))
                {
                    Expr key = ParseExpression();
                    Expect(TokenKind.Operator, ":");
                    pairs.Add((key, ParseExpression()));
                    if (!Current.IsOp(",")) break;
                    _i++;
                }
                Expect(TokenKind.Operator, "}");
                _depth--;
                return new DictExpr(t.Offset, pairs);
            default:
                throw Error($"expected an expression, found {t}", t.Offset);
        }
    }

    private Expr ParsePostfix(Expr target)
    {
        while (true)
        {
            Token t = Current;
            if (t.IsOp("."))
            {
                _i++;
                Token name = Next();
                if (name.Kind is not (TokenKind.Name or TokenKind.Integer)) throw Error($"expected an attribute name after '.', found {name}", name.Offset);
                target = name.Kind == TokenKind.Integer
                    ? new ItemExpr(t.Offset, target, new Literal(name.Offset, long.Parse(name.Value, CultureInfo.InvariantCulture)))
                    : new AttrExpr(t.Offset, target, name.Value);
            }
            else if (t.IsOp("[")) target = ParseSubscript(target);
            else if (t.IsOp("(")) target = new CallExpr(target.Offset, target, ParseCallArguments());
            else return target;
        }
    }

    private Expr ParseSubscript(Expr target)
    {
        int at = Next().Offset;
        Expr? start = null, stop = null, step = null;
        if (!Current.IsOp(":")) start = ParseExpression();
        if (!Current.IsOp(":"))
        {
            Expect(TokenKind.Operator, "]");
            return new ItemExpr(at, target, start!);
        }
        _i++;
        if (!Current.IsOp(":") && !Current.IsOp("]")) stop = ParseExpression();
        if (Current.IsOp(":"))
        {
            _i++;
            if (!Current.IsOp("]")) step = ParseExpression();
        }
        Expect(TokenKind.Operator, "]");
        return new SliceExpr(at, target, start, stop, step);
    }

    private Expr ParseFiltersAndTests(Expr value)
    {
        while (true)
        {
            Token t = Current;
            if (t.IsOp("|"))
            {
                _i++;
                string name = ExpectDottedName();
                Arguments args = Current.IsOp("(") ? ParseCallArguments() : Arguments.None;
                value = ParsePostfix(new FilterExpr(t.Offset, value, name, args));
            }
            else if (t.IsName("is"))
            {
                _i++;
                bool negated = Current.IsName("not");
                if (negated) _i++;
                Token nameToken = Next();
                if (nameToken.Kind != TokenKind.Name) throw Error($"expected a test name after 'is', found {nameToken}", nameToken.Offset);
                Arguments args = Arguments.None;
                if (Current.IsOp("(")) args = ParseCallArguments();
                else if (Current.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                         || (Current.Kind == TokenKind.Name && Current.Value is not ("and" or "or" or "if" or "else" or "in" or "not" or "is")))
                    args = new Arguments([ParsePostfix(ParsePrimary())], []);
                value = new TestExpr(t.Offset, value, nameToken.Value, args, negated);
            }
            else return value;
        }
    }

    private Arguments ParseCallArguments()
    {
        int open = Next().Offset; // (
        Enter(open);
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        while (!Current.IsOp(")"))
        {
            if (Current.Kind == TokenKind.Name && _tokens[_i + 1].IsOp("="))
            {
                string name = Next().Value;
                _i++;
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0) throw Error("a positional argument follows a keyword argument", Current.Offset);
                positional.Add(ParseExpression());
            }
            if (!Current.IsOp(",")) break;
            _i++;
        }
        Expect(TokenKind.Operator, ")");
        _depth--;
        return new Arguments(positional, keywords);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private string ExpectName()
    {
        Token t = Next();
        return t.Kind == TokenKind.Name ? t.Value : throw Error($"expected a name, found {t}", t.Offset);
    }

    private string ExpectDottedName()
    {
        string name = ExpectName();
        return name;
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
