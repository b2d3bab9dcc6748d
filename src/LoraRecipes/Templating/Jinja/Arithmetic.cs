namespace LoraRecipes.Templating.Jinja;

/// <summary>Python's arithmetic on template values: + - * / // % **, with str/list + and * where Python has them.</summary>
internal static class Arithmetic
{
    public static object? Apply(string op, object? a, object? b, Interpreter interpreter, int offset)
    {
        if (a is Undefined || b is Undefined)
            throw new InvalidOperationException($"an undefined value is used with '{op}' (check the variable or key names)");
        int max = interpreter.Limits.MaxOutputChars;
        switch (op)
        {
            case "+" when a is string sa && b is string sb:
                return (long)sa.Length + sb.Length <= max ? sa + sb : throw new InvalidOperationException($"string exceeds {max} characters");
            case "+" when a is string || b is string:
                // Python raises TypeError here; @huggingface/jinja concatenates. Concatenating is the useful choice.
                return Values.Str(a) + Values.Str(b);
            case "+" when a is List<object?> la && b is List<object?> lb:
                return (long)la.Count + lb.Count <= max ? new List<object?>([.. la, .. lb]) : throw new InvalidOperationException($"list exceeds {max} items");
            case "*" when a is string s && b is long n:
                return Repeat(s, n, max);
            case "*" when a is long n && b is string s:
                return Repeat(s, n, max);
            case "*" when a is List<object?> l && b is long n:
                if (n <= 0) return new List<object?>();
                if (l.Count * n > max) throw new InvalidOperationException($"list exceeds {max} items");
                return Enumerable.Repeat(l, (int)n).SelectMany(x => x).ToList();
        }
        if (!Values.IsNumber(a) || !Values.IsNumber(b))
            throw new InvalidOperationException($"unsupported operand types for {op}: '{Values.TypeName(a)}' and '{Values.TypeName(b)}'");
        if (a is double || b is double || op == "/") return Float(op, Values.ToDouble(a), Values.ToDouble(b));
        long x = a is bool ba ? (ba ? 1 : 0) : (long)a!, y = b is bool bb ? (bb ? 1 : 0) : (long)b!;
        return op switch
        {
            "+" => (object)checked(x + y),
            "-" => checked(x - y),
            "*" => checked(x * y),
            "//" => y == 0 ? throw new InvalidOperationException("integer division by zero") : FloorDiv(x, y),
            "%" => y == 0 ? throw new InvalidOperationException("integer modulo by zero") : x - y * FloorDiv(x, y),
            "**" => y < 0 ? (object)Math.Pow(x, y) : Power(x, y),
            _ => throw new InvalidOperationException($"unknown operator {op}"),
        };
    }

    private static string Repeat(string s, long n, int max)
    {
        if (n <= 0) return "";
        if (s.Length * n > max) throw new InvalidOperationException($"string exceeds {max} characters");
        return string.Concat(Enumerable.Repeat(s, (int)n));
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static long Power(long x, long y)
    {
        if (x == -1) return y % 2 == 0 ? 1 : -1;
        long result = 1;
        for (long i = 0; i < y; i++)
        {
            result = checked(result * x);
            if (result == 0 || result == 1 && x == 1) break;
        }
        return result;
    }

    private static double Float(string op, double x, double y) => op switch
    {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" => y == 0 ? throw new InvalidOperationException("division by zero") : x / y,
        "//" => y == 0 ? throw new InvalidOperationException("float floor division by zero") : Math.Floor(x / y),
        "%" => y == 0 ? throw new InvalidOperationException("float modulo") : x - y * Math.Floor(x / y),
        "**" => Math.Pow(x, y),
        _ => throw new InvalidOperationException($"unknown operator {op}"),
    };
}
