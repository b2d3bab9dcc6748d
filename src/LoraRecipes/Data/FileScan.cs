using System.Buffers;
using System.Text.Unicode;

namespace LoraRecipes.Data;

/// <summary>
/// One streaming pass over a data file before any record is parsed: the byte-order mark, the first non-blank byte
/// (an array or lines? empty?) and the first invalid UTF-8 byte with its line. These whole-file errors so come
/// first, and read the same, however the records are read afterwards.
/// </summary>
/// <param name="Start">Where the text starts: 3 past a UTF-8 byte-order mark, else 0.</param>
/// <param name="FirstByte">The first byte that is not a space, tab, CR or LF; null for a blank file.</param>
/// <param name="InvalidUtf8At">File offset of the first byte that does not start a valid UTF-8 sequence; null if none.</param>
/// <param name="InvalidUtf8Line">1-based line of that byte.</param>
internal sealed record FileScan(int Start, byte? FirstByte, long? InvalidUtf8At, int? InvalidUtf8Line)
{
    public static FileScan Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var buffer = new byte[1 << 16];
        var chars = new char[buffer.Length];
        int start = 0, carry = 0, lines = 1;
        long at = 0;   // file offset of buffer[0]
        byte? first = null;
        bool bomChecked = false;
        while (true)
        {
            int read = stream.Read(buffer, carry, buffer.Length - carry);
            int filled = carry + read;
            bool final = read == 0;
            int from = 0;
            if (!bomChecked)
            {
                if (filled < 3 && !final)
                {
                    carry = filled;   // wait for 3 bytes (or the end) to tell a byte-order mark from text
                    continue;
                }
                if (buffer.AsSpan(0, filled).StartsWith("\uFEFF"u8)) start = from = 3;
                bomChecked = true;
            }
            var text = buffer.AsSpan(from, filled - from);
            // An invalid byte is never blank, so when one is found below, FirstByte is already set.
            if (first is null && text.IndexOfAnyExcept(" \t\r\n"u8) is int nonBlank and >= 0) first = text[nonBlank];
            var status = Utf8.ToUtf16(text, chars, out int used, out _, replaceInvalidSequences: false, isFinalBlock: final);
            lines += text[..used].Count((byte)'\n');
            if (status == OperationStatus.InvalidData) return new FileScan(start, first, at + from + used, lines);
            if (final) return new FileScan(start, first, null, null);
            // NeedMoreData: a sequence cut by the buffer's end (at most 3 bytes) goes round again.
            carry = text.Length - used;
            text[used..].CopyTo(buffer);
            at += from + used;
        }
    }
}
