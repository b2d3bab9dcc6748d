using System.Globalization;

namespace LoraRecipes.Templating.Jinja;

internal sealed partial class Parser
{
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
                string name = ExpectName();
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
}
