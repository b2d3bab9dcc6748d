using System.Text;
using System.Text.Json;

namespace LoraRecipes.Data;

/// <summary>Reads a JSON array or JSONL file of records (alpaca, text, messages, classification), or a CSV file of
/// classification records, with record numbers and lines.</summary>
public static class DataReader
{
    /// <summary>Longest JSONL line accepted (a guard against a file that is one huge line).</summary>
    public const int MaxRecordBytes = 16 << 20;

    /// <summary>Reads every record; any malformed record stops the read with its number and line.</summary>
    public static IReadOnlyList<DataRecord> Read(string path, LoraRecipes.Recipes.DataFormat format) => Read(path, FormatName(format));

    /// <summary>The recipe's spelling of a data format (alpaca, messages, text, classification).</summary>
    public static string FormatName(LoraRecipes.Recipes.DataFormat format) =>
        LoraRecipes.Recipes.YamlNames.ToYaml(format, ["alpaca", "messages", "text", "classification"]);

    /// <summary>Reads every record; any malformed record stops the read with its number and line.</summary>
    public static IReadOnlyList<DataRecord> Read(string path, string format) => Records(path, format).ToList();

    /// <summary>
    /// The records one at a time, so a data file of any size can be encoded without holding its records: what is wrong
    /// with the file as a whole (missing, empty, not UTF-8) is thrown here, before the first record; a malformed record
    /// stops the enumeration with its number and line, exactly as <see cref="Read(string, string)"/> reports it.
    /// JSONL streams through a fixed buffer; a JSON array is read whole and parsed one record at a time; CSV
    /// (classification, small) is parsed whole.
    /// </summary>
    public static IEnumerable<DataRecord> Records(string path, string format)
    {
        if (!System.IO.File.Exists(path))
            throw new DataFormatException(path, null, null, "the data file does not exist.", "Check data.train / data.validation (paths are relative to the recipe).");
        var scan = FileScan.Of(path);
        if (scan.FirstByte is not { } first) throw new DataFormatException(path, null, null, "the data file is empty.", "Add at least one record.");
        if (scan.InvalidUtf8At is { } bad)
            throw new DataFormatException(path, null, scan.InvalidUtf8Line, $"the file is not valid UTF-8 (byte {bad}).", "Save it as UTF-8.");
        if (format == "classification" && CsvReader.IsCsv(path))
        {
            var rows = CsvReader.ReadClassification(path, System.IO.File.ReadAllBytes(path), scan.Start);
            if (rows.Count == 0) throw new DataFormatException(path, null, null, "the CSV file holds no records.", "Add at least one row under the header.");
            return rows;
        }
        return NotEmpty(path, first == (byte)'[' ? ReadArray(path, scan.Start, format) : ReadLines(path, scan.Start, format));
    }

    private static IEnumerable<DataRecord> NotEmpty(string path, IEnumerable<DataRecord> records)
    {
        bool any = false;
        foreach (var record in records)
        {
            any = true;
            yield return record;
        }
        if (!any) throw new DataFormatException(path, null, null, "the data file holds no records.", "Add at least one record.");
    }

    /// <summary>
    /// A JSON array, parsed whole-file (its bytes stay in memory during the one-time encode; convert a large file to
    /// JSONL to stream it) but one record per call: each record gets a fresh reader resumed from the saved
    /// <see cref="JsonReaderState"/>, which carries the line and byte position, so errors read as with one reader.
    /// </summary>
    private static IEnumerable<DataRecord> ReadArray(string path, int start, string format)
    {
        if (new System.IO.FileInfo(path).Length > Array.MaxLength)
            throw new DataFormatException(path, null, null, "a JSON array file larger than 2 GB cannot be read whole.",
                "Convert it to JSON Lines (one record object per line), which is read as a stream.");
        byte[] bytes = System.IO.File.ReadAllBytes(path);
        var lines = new LineIndex(bytes, start);
        var state = new JsonReaderState(new JsonReaderOptions { MaxDepth = 64, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        long consumed = 0;
        for (int number = 1; NextArrayRecord(path, bytes, start, format, lines, ref state, ref consumed, number) is { } record; number++)
            yield return record;
    }

    /// <summary>Record <paramref name="number"/> of the array from byte <paramref name="consumed"/> on; null after the closing bracket.</summary>
    private static DataRecord? NextArrayRecord(string path, byte[] bytes, int start, string format, LineIndex lines, ref JsonReaderState state, ref long consumed, int number)
    {
        var reader = new Utf8JsonReader(bytes.AsSpan(start + (int)consumed), isFinalBlock: true, state);
        try
        {
            if (consumed == 0) reader.Read(); // '['
            if (!reader.Read() || reader.TokenType == JsonTokenType.EndArray) return null;
            int line = lines.LineOf((int)(consumed + reader.TokenStartIndex));
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new DataFormatException(path, number, line, $"expected a JSON object, found {Describe(reader.TokenType)}.", Hint(format));
            DataRecord record;
            using (var doc = JsonDocument.ParseValue(ref reader)) record = RecordParser.Parse(doc.RootElement, format, path, number, line);
            consumed += reader.BytesConsumed;
            state = reader.CurrentState;
            return record;
        }
        catch (JsonException ex)
        {
            throw new DataFormatException(path, number, (int)(ex.LineNumber ?? 0) + 1, "invalid JSON: " + StripPath(ex.Message), "Fix the JSON syntax (a JSON array of objects, or one object per line).");
        }
        catch (DecoderFallbackException)
        {
            throw new DataFormatException(path, number, null, "the file is not valid UTF-8.", "Save it as UTF-8.");
        }
    }

    /// <summary>JSON lines, streamed: one line in memory at a time (blank lines skipped, each record numbered).</summary>
    private static IEnumerable<DataRecord> ReadLines(string path, int start, string format)
    {
        using var lines = new LineReader(path, start, MaxRecordBytes);
        int number = 0;
        while (lines.Next(out var line, out bool blank, out bool tooLong))
        {
            if (blank) continue;
            number++;
            if (tooLong)
                throw new DataFormatException(path, number, lines.LineNumber, $"the line is longer than {MaxRecordBytes >> 20} MB.", "Split it into separate records.");
            yield return ParseLine(path, line, format, number, lines.LineNumber);
        }
    }

    private static DataRecord ParseLine(string path, ReadOnlyMemory<byte> line, string format, int number, int lineNumber)
    {
        try
        {
            using var doc = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 64 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new DataFormatException(path, number, lineNumber, $"expected a JSON object, found {doc.RootElement.ValueKind}.", Hint(format));
            return RecordParser.Parse(doc.RootElement, format, path, number, lineNumber);
        }
        catch (JsonException ex)
        {
            throw new DataFormatException(path, number, lineNumber, "invalid JSON: " + StripPath(ex.Message), "Each line of a JSONL file must be one complete JSON object.");
        }
        catch (ArgumentException)
        {
            throw new DataFormatException(path, number, lineNumber, "the line is not valid UTF-8.", "Save the file as UTF-8.");
        }
    }

    internal static string Hint(string format) => format switch
    {
        "alpaca" => "Each record needs \"instruction\" and \"output\" strings (and optionally \"input\").",
        "text" => "Each record needs a \"text\" string.",
        "messages" => "Each record needs \"messages\": [{\"role\": \"user\"|\"assistant\"|\"system\", \"content\": \"…\"}].",
        "classification" => "Each record needs a \"text\" string and a \"label\" (a class name or an integer id); CSV files need a header with text and label columns.",
        _ => "See the data formats in the README.",
    };

    private static string Describe(JsonTokenType t) => t switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        _ => t.ToString(),
    };

    private static string StripPath(string message)
    {
        int i = message.IndexOf(" Path:", StringComparison.Ordinal);
        return i > 0 ? message[..i] : message;
    }

    /// <summary>Maps byte offsets to 1-based line numbers.</summary>
    private sealed class LineIndex
    {
        private readonly List<int> _starts = new() { 0 };

        public LineIndex(byte[] bytes, int start)
        {
            for (int i = start; i < bytes.Length; i++) if (bytes[i] == '\n') _starts.Add(i - start + 1);
        }

        public int LineOf(int offset)
        {
            int i = _starts.BinarySearch(offset);
            return (i >= 0 ? i : ~i - 1) + 1;
        }
    }
}
