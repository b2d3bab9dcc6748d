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
    public static IReadOnlyList<DataRecord> Read(string path, string format)
    {
        if (!System.IO.File.Exists(path))
            throw new DataFormatException(path, null, null, "the data file does not exist.", "Check data.train / data.validation (paths are relative to the recipe).");
        byte[] bytes = System.IO.File.ReadAllBytes(path);
        int start = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        var text = bytes.AsSpan(start);
        int first = text.IndexOfAnyExcept(" \t\r\n"u8);
        if (first < 0) throw new DataFormatException(path, null, null, "the data file is empty.", "Add at least one record.");
        if (!System.Text.Unicode.Utf8.IsValid(text))
        {
            int bad = FirstInvalidUtf8(text);
            throw new DataFormatException(path, null, text[..bad].Count((byte)'\n') + 1, $"the file is not valid UTF-8 (byte {bad + start}).", "Save it as UTF-8.");
        }
        if (format == "classification" && CsvReader.IsCsv(path))
        {
            var rows = CsvReader.ReadClassification(path, bytes, start);
            if (rows.Count == 0) throw new DataFormatException(path, null, null, "the CSV file holds no records.", "Add at least one row under the header.");
            return rows;
        }
        var records = text[first] == (byte)'[' ? ReadArray(path, bytes, start, format) : ReadLines(path, bytes, start, format);
        if (records.Count == 0) throw new DataFormatException(path, null, null, "the data file holds no records.", "Add at least one record.");
        return records;
    }

    private static List<DataRecord> ReadArray(string path, byte[] bytes, int start, string format)
    {
        var records = new List<DataRecord>();
        var options = new JsonReaderOptions { MaxDepth = 64, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        var reader = new Utf8JsonReader(bytes.AsSpan(start), options);
        var lines = new LineIndex(bytes, start);
        try
        {
            reader.Read(); // '['
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int number = records.Count + 1;
                int line = lines.LineOf((int)reader.TokenStartIndex);
                if (reader.TokenType != JsonTokenType.StartObject)
                    throw new DataFormatException(path, number, line, $"expected a JSON object, found {Describe(reader.TokenType)}.", Hint(format));
                using var doc = JsonDocument.ParseValue(ref reader);
                records.Add(RecordParser.Parse(doc.RootElement, format, path, number, line));
            }
        }
        catch (JsonException ex)
        {
            throw new DataFormatException(path, records.Count + 1, (int)(ex.LineNumber ?? 0) + 1, "invalid JSON: " + StripPath(ex.Message), "Fix the JSON syntax (a JSON array of objects, or one object per line).");
        }
        catch (DecoderFallbackException)
        {
            throw new DataFormatException(path, records.Count + 1, null, "the file is not valid UTF-8.", "Save it as UTF-8.");
        }
        return records;
    }

    private static List<DataRecord> ReadLines(string path, byte[] bytes, int start, string format)
    {
        var records = new List<DataRecord>();
        int lineNumber = 0, pos = start;
        while (pos < bytes.Length)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', pos);
            if (end < 0) end = bytes.Length;
            lineNumber++;
            var line = bytes.AsSpan(pos, end - pos).TrimEnd("\r"u8);
            pos = end + 1;
            if (line.IndexOfAnyExcept(" \t"u8) < 0) continue;
            int number = records.Count + 1;
            if (line.Length > MaxRecordBytes)
                throw new DataFormatException(path, number, lineNumber, $"the line is longer than {MaxRecordBytes >> 20} MB.", "Split it into separate records.");
            try
            {
                using var doc = JsonDocument.Parse(line.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DataFormatException(path, number, lineNumber, $"expected a JSON object, found {doc.RootElement.ValueKind}.", Hint(format));
                records.Add(RecordParser.Parse(doc.RootElement, format, path, number, lineNumber));
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
        return records;
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> text)
    {
        int i = 0;
        while (i < text.Length && Rune.DecodeFromUtf8(text[i..], out _, out int used) == System.Buffers.OperationStatus.Done) i += used;
        return i;
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
