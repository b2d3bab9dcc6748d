using System.Globalization;
using System.Text;

namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// Splits a template into text and tag tokens, applying whitespace control the way Jinja2 does with the options
/// transformers sets (<c>trim_blocks=True</c>, <c>lstrip_blocks=True</c>, <c>keep_trailing_newline=False</c>):
/// <list type="bullet">
/// <item><c>{%-</c>/<c>{{-</c>/<c>{#-</c> strip all whitespace before the tag; <c>-%}</c>/<c>-}}</c>/<c>-#}</c> all whitespace after;</item>
/// <item>lstrip_blocks: spaces and tabs between a line start and <c>{%</c> or <c>{#</c> are dropped (<c>{%+</c> keeps them);</item>
/// <item>trim_blocks: the first newline after <c>%}</c> or <c>#}</c> is dropped (<c>+%}</c> keeps it);</item>
/// <item>one trailing newline of the template is dropped.</item>
/// </list>
/// Positions are offsets into the original source, so errors name real lines and columns.
/// </summary>
internal sealed class Lexer(string source, bool trimBlocks = true, bool lstripBlocks = true)
{
    private readonly List<Token> _tokens = [];
    private int _pos;

    public static List<Token> Tokenize(string source, bool trimBlocks = true, bool lstripBlocks = true) =>
        new Lexer(source, trimBlocks, lstripBlocks).Run();

    private List<Token> Run()
    {
        string src = source.EndsWith('\n') ? source[..^1] : source;
        bool stripNextLeading = false;
        while (_pos < src.Length)
        {
            int tag = NextTag(src, _pos);
            int textEnd = tag < 0 ? src.Length : tag;
            string text = src[_pos..textEnd];
            int textStart = _pos;
            if (stripNextLeading) text = text.TrimStart();
            stripNextLeading = false;
            if (tag >= 0)
            {
                char kind = src[tag + 1];
                char modifier = tag + 2 < src.Length ? src[tag + 2] : '\0';
                if (modifier == '-') text = text.TrimEnd();
                else if (lstripBlocks && modifier != '+' && kind is '%' or '#') text = LstripBlock(text, src, textStart);
            }
            if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, textStart));
            if (tag < 0) break;

            _pos = tag;
            (bool stripAfter, bool keepNewline, char closedKind) = ReadTag(src);
            stripNextLeading = stripAfter;
            if (!stripAfter && !keepNewline && trimBlocks && closedKind is '%' or '#')
            {
                if (_pos < src.Length && src[_pos] == '\n') _pos++;
                else if (_pos + 1 < src.Length && src[_pos] == '\r' && src[_pos + 1] == '\n') _pos += 2;
            }
        }
        _tokens.Add(new Token(TokenKind.End, "", src.Length));
        return _tokens;
    }

    private static int NextTag(string src, int from)
    {
        for (int i = src.IndexOf('{', from); i >= 0 && i + 1 < src.Length; i = src.IndexOf('{', i + 1))
        {
            if (src[i + 1] is '{' or '%' or '#') return i;
        }
        return -1;
    }

    /// <summary>lstrip_blocks: drop the spaces/tabs between the line start and the tag, if only those are there.</summary>
    private static string LstripBlock(string text, string src, int textStart)
    {
        int lineStart = text.LastIndexOf('\n') + 1;
        bool atLineStart = lineStart > 0 || textStart == 0 || src[textStart - 1] == '\n';
        if (!atLineStart) return text;
        for (int i = lineStart; i < text.Length; i++)
        {
            if (text[i] is not (' ' or '\t')) return text;
        }
        return text[..lineStart];
    }

    /// <summary>Reads one tag from <c>{</c> to its close; returns its whitespace-control flags and kind.</summary>
    private (bool StripAfter, bool KeepNewline, char Kind) ReadTag(string src)
    {
        int open = _pos;
        char kind = src[_pos + 1];
        _pos += 2;
        if (_pos < src.Length && src[_pos] is '-' or '+') _pos++;
        if (kind == '#')
        {
            int close = src.IndexOf("#}", _pos, StringComparison.Ordinal);
            if (close < 0) throw Error("unclosed comment: '{#' has no '#}'", open);
            bool strip = close > _pos && src[close - 1] == '-';
            bool keep = close > _pos && src[close - 1] == '+';
            _pos = close + 2;
            return (strip, keep, '#');
        }
        _tokens.Add(new Token(kind == '%' ? TokenKind.BlockOpen : TokenKind.PrintOpen, kind == '%' ? "{%" : "{{", open));
        int depth = 0;
        while (true)
        {
            while (_pos < src.Length && char.IsWhiteSpace(src[_pos])) _pos++;
            if (_pos >= src.Length) throw Error(kind == '%' ? "unclosed block: '{%' has no '%}'" : "unclosed expression: '{{' has no '}}'", open);
            string closer = kind == '%' ? "%}" : "}}";
            if (depth == 0 || kind == '%')
            {
                foreach (string prefix in new[] { "-", "+", "" })
                {
                    if (string.CompareOrdinal(src, _pos, prefix + closer, 0, prefix.Length + 2) != 0) continue;
                    _tokens.Add(new Token(kind == '%' ? TokenKind.BlockClose : TokenKind.PrintClose, closer, _pos));
                    _pos += prefix.Length + 2;
                    return (prefix == "-", prefix == "+", kind);
                }
            }
            ReadInner(src, ref depth);
        }
    }

    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "~", "+", "-", "*", "/", "%", "<", ">", "="];

    private void ReadInner(string src, ref int depth)
    {
        int start = _pos;
        char c = src[_pos];
        if (char.IsLetter(c) || c == '_')
        {
            while (_pos < src.Length && (char.IsLetterOrDigit(src[_pos]) || src[_pos] == '_')) _pos++;
            _tokens.Add(new Token(TokenKind.Name, src[start.._pos], start));
            return;
        }
        if (char.IsAsciiDigit(c))
        {
            while (_pos < src.Length && (char.IsAsciiDigit(src[_pos]) || src[_pos] == '_')) _pos++;
            bool isFloat = _pos + 1 < src.Length && src[_pos] == '.' && char.IsAsciiDigit(src[_pos + 1]);
            if (isFloat)
            {
                _pos++;
                while (_pos < src.Length && char.IsAsciiDigit(src[_pos])) _pos++;
            }
            string digits = src[start.._pos].Replace("_", "", StringComparison.Ordinal);
            _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, digits, start));
            return;
        }
        if (c is '\'' or '"')
        {
            _tokens.Add(new Token(TokenKind.String, ReadString(src, c), start));
            return;
        }
        foreach (string op in Operators)
        {
            if (string.CompareOrdinal(src, _pos, op, 0, op.Length) != 0) continue;
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
            _tokens.Add(new Token(TokenKind.Operator, op, start));
            _pos += op.Length;
            return;
        }
        throw Error($"unexpected character '{c}'", start);
    }

    /// <summary>A quoted string with Python's escapes (\n \t \r \\ \' \" \xHH \uHHHH; other escapes kept as written).</summary>
    private string ReadString(string src, char quote)
    {
        int open = _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= src.Length) throw Error("unclosed string literal", open);
            char c = src[_pos++];
            if (c == quote) return sb.ToString();
            if (c != '\\' || _pos >= src.Length) { sb.Append(c); continue; }
            char e = src[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case '0': sb.Append('\0'); break;
                case '\\' or '\'' or '"': sb.Append(e); break;
                case '\n': break;
                case 'x' or 'u':
                    int n = e == 'x' ? 2 : 4;
                    if (_pos + n > src.Length || !int.TryParse(src.AsSpan(_pos, n), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                        throw Error($"bad \\{e} escape in string literal", _pos - 2);
                    sb.Append((char)code);
                    _pos += n;
                    break;
                default: sb.Append('\\').Append(e); break;
            }
        }
    }

    private JinjaException Error(string message, int offset) => SourcePosition.Error(source, offset, message);
}

/// <summary>Offsets to 1-based line and column.</summary>
internal static class SourcePosition
{
    public static (int Line, int Column) Of(string source, int offset)
    {
        offset = Math.Clamp(offset, 0, source.Length);
        int line = 1, lineStart = 0;
        for (int i = 0; i < offset; i++)
        {
            if (source[i] == '\n') { line++; lineStart = i + 1; }
        }
        return (line, offset - lineStart + 1);
    }

    public static JinjaException Error(string source, int offset, string message, bool raised = false)
    {
        (int line, int column) = Of(source, offset);
        return new JinjaException(message, line, column, raised);
    }
}
