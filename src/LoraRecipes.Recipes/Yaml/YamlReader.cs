using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace LoraRecipes.Recipes.Yaml;

/// <summary>
/// Reads YAML text into a <see cref="YamlNode"/> tree from YamlDotNet's parser events, keeping
/// positions and guarding against hostile input: nesting depth, scalar size and alias expansion are
/// capped, and every failure becomes a diagnostic instead of an exception.
/// </summary>
internal sealed partial class YamlReader
{
    /// <summary>Largest recipe file read (bytes).</summary>
    public const long MaxFileBytes = 4L * 1024 * 1024;

    /// <summary>Longest scalar accepted (characters).</summary>
    public const int MaxScalarLength = 1024 * 1024;

    /// <summary>Deepest nesting of maps and lists accepted.</summary>
    public const int MaxDepth = 64;

    /// <summary>Most nodes a document may expand to, aliases counted as copies.</summary>
    public const long MaxExpandedNodes = 100_000;

    private const string StringTag = "tag:yaml.org,2002:str";

    private readonly IParser _parser;
    private readonly string _file;
    private readonly int _lineOffset;
    private readonly int _columnOffset;
    private readonly int? _singleLineLength;
    private readonly List<RecipeDiagnostic> _diagnostics;
    private readonly Dictionary<string, YamlNode> _anchors = new(StringComparer.Ordinal);
    private long _expanded;

    private YamlReader(string text, string file, int lineOffset, int columnOffset, List<RecipeDiagnostic> diagnostics)
    {
        _parser = new Parser(new StringReader(text));
        _file = file;
        _lineOffset = lineOffset;
        _columnOffset = columnOffset;
        _diagnostics = diagnostics;
        _singleLineLength = text.Contains('\n') ? null : text.Length;
    }

    /// <summary>Reads a recipe file: its size is checked before a byte of YAML is parsed.</summary>
    public static YamlNode? ReadFile(string path, string displayPath, SourceLocation? referencedFrom, List<RecipeDiagnostic> diagnostics)
    {
        var at = referencedFrom ?? new SourceLocation(displayPath, 0, 0);
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.FileNotFound,
                    $"Recipe file '{displayPath}' does not exist", "Check the path; it is relative to the recipe that names it."));
                return null;
            }

            if (info.Length > MaxFileBytes)
            {
                diagnostics.Add(RecipeDiagnostic.Error(new SourceLocation(displayPath, 0, 0), RecipeErrorCodes.FileTooLarge,
                    $"Recipe file is {info.Length:N0} bytes; the limit is {MaxFileBytes:N0}", "Keep data in data files and point data.train at them."));
                return null;
            }

            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.FileNotFound,
                $"Recipe file '{displayPath}' cannot be read: {e.Message}", "Check the file's permissions."));
            return null;
        }

        return ReadDocument(text, displayPath, diagnostics);
    }

    /// <summary>Reads one YAML document from text; null (with diagnostics) when it cannot.</summary>
    /// <param name="text">The YAML.</param>
    /// <param name="file">The file name diagnostics give.</param>
    /// <param name="diagnostics">Receives the problems.</param>
    /// <param name="lineOffset">Added to every line (for text embedded in a larger source).</param>
    /// <param name="columnOffset">Added to every column (an override's value starts after <c>key=</c>).</param>
    public static YamlNode? ReadDocument(string text, string file, List<RecipeDiagnostic> diagnostics, int lineOffset = 0, int columnOffset = 0)
    {
        var reader = new YamlReader(text, file, lineOffset, columnOffset, diagnostics);
        try
        {
            return reader.ReadSingleDocument();
        }
        catch (YamlException e)
        {
            diagnostics.Add(RecipeDiagnostic.Error(reader.At(e.Start), RecipeErrorCodes.YamlSyntax,
                $"YAML syntax error: {CleanMessage(e.Message)}", "Check indentation, colons and quotes around this position."));
        }
        catch (LimitExceededException e)
        {
            diagnostics.Add(e.Diagnostic);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's parser can end in an invalid state on some malformed flow collections (found by fuzzing).
            diagnostics.Add(RecipeDiagnostic.Error(reader.At(reader._lastMark), RecipeErrorCodes.YamlSyntax,
                "YAML syntax error: malformed content after this position", "Check brackets, quotes and indentation around this position."));
        }

        return null;
    }

    private Mark _lastMark = Mark.Empty;

    private YamlNode? ReadSingleDocument()
    {
        Expect<StreamStart>();
        if (_parser.Current is StreamEnd)
        {
            _diagnostics.Add(RecipeDiagnostic.Error(new SourceLocation(_file, 1 + _lineOffset, 1 + _columnOffset),
                RecipeErrorCodes.NotARecipe, "The recipe is empty", "Start with 'name:' and 'base_model:'."));
            return null;
        }

        Expect<DocumentStart>();
        var root = ReadNode(depth: 1);
        Expect<DocumentEnd>();
        if (_parser.Current is DocumentStart second)
        {
            _diagnostics.Add(RecipeDiagnostic.Error(At(second.Start), RecipeErrorCodes.NotARecipe,
                "A recipe holds a single YAML document", "Remove the '---' separator and everything after it, or move it to its own file."));
            return null;
        }

        return root;
    }

    private YamlNode ReadNode(int depth)
    {
        var ev = _parser.Current ?? throw new YamlException("Unexpected end of the YAML stream.");
        _lastMark = ev.Start;
        switch (ev)
        {
            case AnchorAlias alias:
                return ReadAlias(alias);
            case Scalar scalar:
                _parser.MoveNext();
                return Register(scalar.Anchor, ReadScalar(scalar));
            case SequenceStart start:
                CheckDepth(start, depth);
                _parser.MoveNext();
                return Register(start.Anchor, ReadSequence(start, depth));
            case MappingStart start:
                CheckDepth(start, depth);
                _parser.MoveNext();
                return Register(start.Anchor, ReadMapping(start, depth));
            default:
                throw new YamlException(ev.Start, ev.End, $"Unexpected {ev.GetType().Name}.");
        }
    }

    private YamlScalar ReadScalar(Scalar scalar)
    {
        var at = At(scalar.Start);
        Count(1, at);
        if (scalar.Value.Length > MaxScalarLength)
        {
            throw new LimitExceededException(RecipeDiagnostic.Error(at, RecipeErrorCodes.ScalarTooLarge,
                $"A value is {scalar.Value.Length:N0} characters long; the limit is {MaxScalarLength:N0}",
                "Move long text into a data file."));
        }

        // A quoted scalar, or one tagged !!str, is always text; only plain scalars are typed by their content.
        var plain = scalar.Style == ScalarStyle.Plain && (scalar.Tag.IsEmpty || scalar.Tag.Value != StringTag);
        return new YamlScalar(at, scalar.Value, plain);
    }

    private YamlSequence ReadSequence(SequenceStart start, int depth)
    {
        var items = new List<YamlNode>();
        long size = 1;
        Count(1, At(start.Start));
        while (_parser.Current is not SequenceEnd)
        {
            var item = ReadNode(depth + 1);
            items.Add(item);
            size += item.ExpandedSize;
        }

        _parser.MoveNext();
        return new YamlSequence(At(start.Start), items, size);
    }

    private YamlMapping ReadMapping(MappingStart start, int depth)
    {
        var entries = new List<YamlEntry>();
        var seen = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        long size = 1;
        Count(1, At(start.Start));
        while (_parser.Current is not MappingEnd)
        {
            var key = ReadNode(depth + 1);
            var value = ReadNode(depth + 1);
            size += key.ExpandedSize + value.ExpandedSize;
            if (key is not YamlScalar { IsNull: false } text)
            {
                _diagnostics.Add(RecipeDiagnostic.Error(key.Location, RecipeErrorCodes.InvalidKey,
                    $"Keys must be plain names, not {key.Describe()}", "Write 'key: value'."));
                continue;
            }

            if (seen.TryGetValue(text.Value, out var first))
            {
                _diagnostics.Add(RecipeDiagnostic.Error(text.Location, RecipeErrorCodes.DuplicateKey,
                    $"Duplicate key '{text.Value}' (first defined at line {first.Line})", "Remove one of the two; YAML keeps neither reliably."));
                continue;
            }

            seen.Add(text.Value, text.Location);
            entries.Add(new YamlEntry(text.Value, text.Location, value));
        }

        // An empty map reads as one starting at the key that holds it; point at the start event anyway.
        _parser.MoveNext();
        return new YamlMapping(At(start.Start), entries, size);
    }

    private YamlNode ReadAlias(AnchorAlias alias)
    {
        var at = At(alias.Start);
        _parser.MoveNext();
        if (!_anchors.TryGetValue(alias.Value.Value, out var target))
        {
            throw new LimitExceededException(RecipeDiagnostic.Error(at, RecipeErrorCodes.AliasExpansion,
                $"Alias '*{alias.Value.Value}' names no anchor defined before it", "Define '&name' before using '*name'."));
        }

        // The subtree is shared, not copied, but it counts as a copy towards the cap.
        Count(target.ExpandedSize, at);
        return target;
    }

    private YamlNode Register(AnchorName anchor, YamlNode node)
    {
        if (!anchor.IsEmpty)
        {
            _anchors[anchor.Value] = node;
        }

        return node;
    }

    private void Count(long nodes, SourceLocation at)
    {
        _expanded += nodes;
        if (_expanded > MaxExpandedNodes)
        {
            throw new LimitExceededException(RecipeDiagnostic.Error(at, RecipeErrorCodes.AliasExpansion,
                $"The document expands to more than {MaxExpandedNodes:N0} values", "Recipes are small: avoid deeply repeated aliases (*name)."));
        }
    }

    private void CheckDepth(ParsingEvent start, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new LimitExceededException(RecipeDiagnostic.Error(At(start.Start), RecipeErrorCodes.NestingTooDeep,
                $"Maps and lists are nested deeper than {MaxDepth} levels", "Recipes need at most three levels."));
        }
    }

    private void Expect<T>() where T : ParsingEvent
    {
        if (_parser.Current is null)
        {
            _parser.MoveNext();
        }

        if (_parser.Current is not T)
        {
            var ev = _parser.Current;
            throw new YamlException(ev?.Start ?? Mark.Empty, ev?.End ?? Mark.Empty, $"Expected {typeof(T).Name}.");
        }

        _parser.MoveNext();
    }

    private SourceLocation At(Mark mark)
    {
        var line = Math.Max(1, (int)mark.Line);
        var column = Math.Max(1, (int)mark.Column);
        if (_singleLineLength is { } length && line > 1)
        {
            // The scanner reports "end of input" on a virtual next line; for one-line text (an override) that is its end.
            (line, column) = (1, length + 1);
        }

        return new(_file, line + _lineOffset, column + _columnOffset);
    }

    // YamlDotNet prefixes messages with "(Line: 3, Col: 5, Idx: 20) - (Line: …): "; the diagnostic has the position already.
    private static string CleanMessage(string message) => PositionPrefix().Replace(message, "").TrimEnd('.');

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex PositionPrefix();

    private sealed class LimitExceededException(RecipeDiagnostic diagnostic) : Exception(diagnostic.Message)
    {
        public RecipeDiagnostic Diagnostic { get; } = diagnostic;
    }
}
