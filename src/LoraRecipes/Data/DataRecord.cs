namespace LoraRecipes.Data;

/// <summary>One chat turn of a <c>messages</c> record.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// One training example as read from the data file, before formatting. Alpaca records fill
/// Instruction/Input/Output; <c>text</c> records fill Text; <c>messages</c> records fill Messages;
/// <c>classification</c> records fill Text and Label (and LabelId for integer labels).
/// </summary>
public sealed record DataRecord
{
    /// <summary>1-based position of the record in its file.</summary>
    public required int RecordNumber { get; init; }
    /// <summary>1-based line where the record starts.</summary>
    public required int Line { get; init; }
    public string Instruction { get; init; } = "";
    public string Input { get; init; } = "";
    public string Output { get; init; } = "";
    public string? Text { get; init; }
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    /// <summary><c>classification</c> records: the label as written (a class name, or an integer id as text).</summary>
    public string? Label { get; init; }
    /// <summary><c>classification</c> records whose label is an integer (JSON number, or all digits in CSV): the class id.</summary>
    public int? LabelId { get; init; }
}

/// <summary>A data file that cannot be used; names the file, the record and the line.</summary>
public sealed class DataFormatException(string file, int? recordNumber, int? line, string message, string? hint = null)
    : Exception(Format(file, recordNumber, line, message, hint))
{
    public string File { get; } = file;
    public int? RecordNumber { get; } = recordNumber;
    public int? LineNumber { get; } = line;

    private static string Format(string file, int? record, int? line, string message, string? hint)
    {
        string where = line is { } l ? $"{file}({l},1)" : file;
        string which = record is { } r ? $"record {r}: " : "";
        return $"{where}: error LORA100: {which}{message}{(hint is null ? "" : " " + hint)}";
    }
}
