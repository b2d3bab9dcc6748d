namespace LoraRecipes.Data;

/// <summary>
/// A file's lines, read in 64 KiB chunks so a JSONL file of any size streams through a fixed buffer. Each line comes
/// with its trailing CRs trimmed; a line longer than the limit is reported as such without being kept (its first
/// <c>limit</c> bytes are all that is ever stored), so one gigantic line cannot take the memory.
/// </summary>
internal sealed class LineReader : IDisposable
{
    private readonly FileStream _stream;
    private readonly byte[] _chunk = new byte[1 << 16];
    private readonly int _limit;
    private int _chunkAt, _chunkEnd;
    private byte[] _line = new byte[1 << 12];

    /// <summary>Opens <paramref name="path"/> at byte <paramref name="start"/> (past a byte-order mark).</summary>
    public LineReader(string path, int start, int limit)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        _stream.Position = start;
        _limit = limit;
    }

    /// <summary>1-based number of the line last returned by <see cref="Next"/>.</summary>
    public int LineNumber { get; private set; }

    /// <summary>
    /// The next line, or false at the end of the file (a final line without a newline counts; nothing after a final
    /// newline does). <paramref name="blank"/>: only spaces and tabs. <paramref name="tooLong"/>: more than the limit
    /// after trimming, and then <paramref name="line"/> is empty. The bytes are valid until the next call.
    /// </summary>
    public bool Next(out ReadOnlyMemory<byte> line, out bool blank, out bool tooLong)
    {
        long length = 0, firstNotBlank = -1;
        int trailingCr = 0, stored = 0;
        bool newline = false;
        while (!newline)
        {
            if (_chunkAt == _chunkEnd && !Fill()) break;
            var rest = _chunk.AsSpan(_chunkAt, _chunkEnd - _chunkAt);
            int end = rest.IndexOf((byte)'\n');
            newline = end >= 0;
            var piece = newline ? rest[..end] : rest;
            _chunkAt += piece.Length + (newline ? 1 : 0);
            if (piece.IsEmpty) continue;
            if (firstNotBlank < 0 && piece.IndexOfAnyExcept(" \t"u8) is int nb and >= 0) firstNotBlank = length + nb;
            int lastNotCr = piece.LastIndexOfAnyExcept((byte)'\r');
            trailingCr = lastNotCr < 0 ? trailingCr + piece.Length : piece.Length - lastNotCr - 1;
            int keep = (int)Math.Min(piece.Length, _limit - stored);
            if (keep > 0)
            {
                if (stored + keep > _line.Length) Array.Resize(ref _line, (int)Math.Min(Math.Max((long)_line.Length * 2, stored + keep), _limit));
                piece[..keep].CopyTo(_line.AsSpan(stored));
                stored += keep;
            }
            length += piece.Length;
        }
        if (!newline && length == 0)
        {
            (line, blank, tooLong) = (default, false, false);
            return false;
        }
        LineNumber++;
        long trimmed = length - trailingCr;
        blank = firstNotBlank < 0 || firstNotBlank >= trimmed;
        tooLong = trimmed > _limit;
        line = tooLong ? default : _line.AsMemory(0, (int)trimmed);
        return true;
    }

    private bool Fill()
    {
        _chunkAt = 0;
        _chunkEnd = _stream.Read(_chunk);
        return _chunkEnd > 0;
    }

    public void Dispose() => _stream.Dispose();
}
