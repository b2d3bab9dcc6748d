using System.Globalization;
using System.Text;

namespace LoraRecipes.Tokenization;

/// <summary>
/// SentencePiece-style BPE as Hugging Face's tokenizer.json writes it (Llama 2, Mistral, Gemma): spaces become
/// <c>▁</c> (normalizer or Metaspace pre-tokenizer), each piece is split into characters, a character missing from
/// the vocabulary falls back to its UTF-8 bytes (<c>&lt;0x0A&gt;</c>) or to the unknown token, and the lowest-ranked
/// merge is applied until none applies (HF <c>BPE::merge_word</c>: lowest rank first, leftmost among equals).
/// </summary>
internal sealed class SentencePieceBpeModel : TokenModel
{
    public const char Space = '\u2581'; // ▁

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly int[] _byteIds; // -1 where the vocabulary has no <0xNN> token
    private readonly int? _unkId;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;
    private readonly IReadOnlyList<Func<string, string>> _normalizers;
    private readonly IReadOnlyList<Func<string, bool, IEnumerable<string>>> _preTokenizers;
    private readonly bool _stripLeadingSpace;

    public SentencePieceBpeModel(SentencePieceBpeSettings s)
    {
        _vocab = s.Vocab;
        _merges = new Dictionary<long, (int, int)>(s.Merges.Count);
        for (int rank = 0; rank < s.Merges.Count; rank++)
        {
            (string left, string right) = s.Merges[rank];
            _merges.TryAdd(Pair(_vocab[left], _vocab[right]), (rank, _vocab[left + right]));
        }
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++)
            _byteIds[b] = s.ByteFallback && _vocab.TryGetValue(ByteToken(b), out int id) ? id : -1;
        _unkId = s.UnkToken is not null && _vocab.TryGetValue(s.UnkToken, out int unk) ? unk : null;
        _fuseUnk = s.FuseUnk;
        _ignoreMerges = s.IgnoreMerges;
        _normalizers = s.Normalizers;
        _preTokenizers = s.PreTokenizers;
        _stripLeadingSpace = s.StripLeadingSpace;
    }

    public override IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>The byte-fallback token of a byte: <c>&lt;0x0A&gt;</c>.</summary>
    public static string ByteToken(int b) => $"<0x{b:X2}>";

    public override void Encode(string text, bool atStart, List<int> ids)
    {
        foreach (Func<string, string> normalize in _normalizers) text = normalize(text);
        IEnumerable<string> pieces = [text];
        foreach (Func<string, bool, IEnumerable<string>> preTokenize in _preTokenizers)
        {
            var step = preTokenize;
            pieces = pieces.SelectMany((piece, i) => step(piece, atStart && i == 0)).ToList();
        }
        foreach (string piece in pieces)
        {
            if (piece.Length > 0) EncodeWord(piece, ids);
        }
    }

    /// <summary>▁ becomes a space, byte-fallback tokens become bytes, and UTF-8 is decoded once at the end.</summary>
    public override string Decode(IReadOnlyList<DecodedToken> tokens) => DecodePieces(tokens, _stripLeadingSpace);

    public static string DecodePieces(IReadOnlyList<DecodedToken> tokens, bool stripLeadingSpace)
    {
        var bytes = new List<byte>();
        foreach (DecodedToken token in tokens) AppendPieceBytes(token, bytes);
        string text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
        return stripLeadingSpace && text.StartsWith(' ') ? text[1..] : text;
    }

    public override bool AppendBytes(DecodedToken token, List<byte> bytes)
    {
        AppendPieceBytes(token, bytes);
        return true;
    }

    public override bool StripsLeadingSpace => _stripLeadingSpace;

    /// <summary>A byte-fallback token (<c>&lt;0xE4&gt;</c>) is its byte; any other piece is its UTF-8 with ▁ as a space.</summary>
    public static void AppendPieceBytes(DecodedToken token, List<byte> bytes)
    {
        // HF runs added tokens through the decoder too: Gemma's whitespace-run tokens ("▁▁▁") are added tokens.
        if (TryParseByteToken(token.Text, out byte b)) bytes.Add(b);
        else bytes.AddRange(Encoding.UTF8.GetBytes(token.Text.Replace(Space, ' ')));
    }

    private static bool TryParseByteToken(string token, out byte b)
    {
        b = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out b);
    }

    private void EncodeWord(string word, List<int> ids)
    {
        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            return;
        }
        var symbols = new List<int>(word.Length);
        bool pendingUnk = false;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (Rune rune in word.EnumerateRunes())
        {
            if (_vocab.TryGetValue(rune.ToString(), out int id))
            {
                FlushUnk();
                symbols.Add(id);
                continue;
            }
            int length = rune.EncodeToUtf8(utf8);
            if (AllBytesKnown(utf8[..length]))
            {
                foreach (byte b in utf8[..length]) symbols.Add(_byteIds[b]);
                continue; // HF adds the byte tokens without flushing a pending unknown token first
            }
            if (_unkId is null) continue; // HF drops a character it can represent in no way
            if (pendingUnk && !_fuseUnk) symbols.Add(_unkId.Value);
            pendingUnk = true;
        }
        FlushUnk();
        Merge(symbols);
        ids.AddRange(symbols.Where(s => s >= 0));

        void FlushUnk()
        {
            if (pendingUnk) symbols.Add(_unkId!.Value);
            pendingUnk = false;
        }
    }

    private bool AllBytesKnown(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (_byteIds[b] < 0) return false;
        }
        return true;
    }

    /// <summary>Merges in place; merged-away symbols are set to -1.</summary>
    private void Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2) return;
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++) (prev[i], next[i]) = (i - 1, i + 1 < n ? i + 1 : -1);

        // (position of the left symbol, id the merge makes), by (rank, position).
        var queue = new PriorityQueue<(int Pos, int NewId), (int Rank, int Pos)>();
        for (int i = 0; i + 1 < n; i++) Enqueue(i);

        while (queue.TryDequeue(out (int Pos, int NewId) top, out _))
        {
            int left = top.Pos;
            if (symbols[left] < 0 || next[left] < 0) continue;
            int right = next[left];
            // A stale entry: one of the two symbols has changed since it was queued.
            if (!_merges.TryGetValue(Pair(symbols[left], symbols[right]), out var merge) || merge.NewId != top.NewId) continue;

            symbols[left] = merge.NewId;
            symbols[right] = -1;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0) Enqueue(prev[left]);
            Enqueue(left);
        }

        void Enqueue(int pos)
        {
            int right = next[pos];
            if (right >= 0 && _merges.TryGetValue(Pair(symbols[pos], symbols[right]), out var m)) queue.Enqueue((pos, m.NewId), (m.Rank, pos));
        }
    }

    private static long Pair(int left, int right) => ((long)left << 32) | (uint)right;
}

/// <summary>What tokenizer.json says about a SentencePiece-style BPE model, ready for <see cref="SentencePieceBpeModel"/>.</summary>
internal sealed class SentencePieceBpeSettings
{
    public required Dictionary<string, int> Vocab { get; init; }
    public required List<(string Left, string Right)> Merges { get; init; }
    public string? UnkToken { get; init; }
    public bool ByteFallback { get; init; }
    public bool FuseUnk { get; init; }
    public bool IgnoreMerges { get; init; }

    /// <summary>Normalizer steps (Prepend, Replace, NFC…) in order, applied to each segment between added tokens.</summary>
    public List<Func<string, string>> Normalizers { get; } = [];

    /// <summary>Pre-tokenizer steps (Metaspace, Split) in order; the bool is true for the piece at offset 0 of the input.</summary>
    public List<Func<string, bool, IEnumerable<string>>> PreTokenizers { get; } = [];

    /// <summary>The decoder removes one leading space (Llama 2's Strip decoder, Metaspace with a prepend scheme).</summary>
    public bool StripLeadingSpace { get; set; }
}
