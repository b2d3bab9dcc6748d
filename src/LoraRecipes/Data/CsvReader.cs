using System.Globalization;
using System.Text;

namespace LoraRecipes.Data;

/// <summary>
/// RFC 4180 CSV for <c>classification</c> data: a header row naming a <c>text</c> and a <c>label</c> column
/// (any order, case-insensitive; other columns are ignored), then one record per row. Fields may be quoted
/// (<c>"a, ""quoted"" text"</c>) and quoted fields may span lines; LF and CRLF both end a row.
/// Errors name the record (data row) and the line it starts on.
/// </summary>
internal static class CsvReader
{
    /// <summary>True for <c>.csv</c> files (by extension: a CSV line can look like anything).</summary>
    public static bool IsCsv(string path) => Path.GetExtension(path).Equals(".csv", StringComparison.OrdinalIgnoreCase);

    public static List<DataRecord> ReadClassification(string path, byte[] bytes, int start)
    {
        string text = Encoding.UTF8.GetString(bytes, start, bytes.Length - start);
        var rows = Rows(path, text).ToList();
        if (rows.Count == 0) throw new DataFormatException(path, null, 1, "the CSV file has no header row.", DataReader.Hint("classification"));
        var (header, _) = rows[0];
        var names = header.Select(h => h.Trim().ToLowerInvariant()).ToList();
        int textColumn = names.IndexOf("text"), labelColumn = names.IndexOf("label");
        if (textColumn < 0 || labelColumn < 0)
            throw new DataFormatException(path, null, 1, $"the header [{string.Join(", ", header)}] has no {(textColumn < 0 ? "\"text\"" : "\"label\"")} column.", DataReader.Hint("classification"));

        var records = new List<DataRecord>();
        foreach (var (fields, line) in rows.Skip(1))
        {
            if (fields.Count == 1 && fields[0].Length == 0) continue;   // a blank line
            int number = records.Count + 1;
            if (fields.Count != header.Count)
                throw new DataFormatException(path, number, line, $"the row has {fields.Count} field(s) but the header has {header.Count}.", "Quote fields that contain commas: \"a, b\".");
            string label = fields[labelColumn].Trim();
            if (label.Length == 0) throw new DataFormatException(path, number, line, "the label is empty.", DataReader.Hint("classification"));
            bool isId = label.All(char.IsAsciiDigit) && int.TryParse(label, NumberStyles.None, CultureInfo.InvariantCulture, out _);
            records.Add(new DataRecord
            {
                RecordNumber = number,
                Line = line,
                Text = fields[textColumn],
                Label = label,
                LabelId = isId ? int.Parse(label, NumberStyles.None, CultureInfo.InvariantCulture) : null,
            });
        }
        return records;
    }

    /// <summary>Splits the text into rows of fields, each with the 1-based line it starts on.</summary>
    private static IEnumerable<(List<string> Fields, int Line)> Rows(string path, string text)
    {
        int i = 0, line = 1;
        while (i < text.Length)
        {
            int rowLine = line;
            var fields = new List<string>();
            var field = new StringBuilder();
            bool endOfRow = false;
            while (!endOfRow)
            {
                if (i < text.Length && text[i] == '"')
                {
                    // Quoted field: "" is a quote; the field ends at the closing quote.
                    i++;
                    while (true)
                    {
                        if (i >= text.Length)
                            throw new DataFormatException(path, null, rowLine, "a quoted field is never closed.", "Close the quote, and double quotes inside a quoted field (\"\").");
                        char c = text[i++];
                        if (c == '"')
                        {
                            if (i < text.Length && text[i] == '"') { field.Append('"'); i++; continue; }
                            break;
                        }
                        if (c == '\n') line++;
                        field.Append(c);
                    }
                    if (i < text.Length && text[i] is not (',' or '\r' or '\n'))
                        throw new DataFormatException(path, null, line, $"unexpected '{text[i]}' after a closing quote.", "Double quotes inside a quoted field (\"\").");
                }
                else
                {
                    while (i < text.Length && text[i] is not (',' or '\r' or '\n')) field.Append(text[i++]);
                }
                fields.Add(field.ToString());
                field.Clear();
                if (i < text.Length && text[i] == ',') { i++; continue; }
                if (i < text.Length && text[i] == '\r') i++;
                if (i < text.Length && text[i] == '\n') { i++; line++; }
                endOfRow = true;
            }
            yield return (fields, rowLine);
        }
    }
}
