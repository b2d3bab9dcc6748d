using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace LoraRecipes.Tokenization;

/// <summary>
/// Byte-level BPE (GPT-2, Llama 3, Qwen): text is normalized, split by the model's regexes in sequence, and each
/// piece's bytes, spelled in GPT-2's byte alphabet, are merged by Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>.
/// With <c>ignore_merges</c> (Llama 3) a piece that is already a vocabulary entry is taken whole before any merging.
/// </summary>
/// <remarks>
/// Known difference: .NET regexes see UTF-16, so a supplementary-plane letter (CJK extension B) does not
/// match <c>\p{L}</c> and may be split differently from HF; the text still round-trips exactly.
/// </remarks>
internal sealed class ByteLevelBpeModel : TokenModel
{
    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocab;
    private readonly IReadOnlyList<Regex> _splits;
    private readonly NormalizationForm? _normalization;
    private readonly bool _ignoreMerges;
    private readonly bool _addPrefixSpace;

    public ByteLevelBpeModel(TokenizerDefinition d)
    {
        _vocab = d.Vocab;
        _splits = d.Splits;
        _normalization = d.Normalization;
        _ignoreMerges = d.IgnoreMerges;
        _addPrefixSpace = d.AddPrefixSpace;
        _bpe = BpeTokenizer.Create(new BpeOptions(_vocab)
        {
            Merges = d.Merges.Select(m => m.Left + " " + m.Right),
            ByteLevel = true,
        });
    }

    public override IReadOnlyDictionary<string, int> Vocab => _vocab;

    public override void Encode(string text, bool atStart, List<int> ids)
    {
        if (text.Length == 0) return;
        if (_normalization is { } form) text = text.Normalize(form);
        if (_addPrefixSpace && text[0] != ' ') text = " " + text;

        foreach (string piece in PreTokenize(text))
        {
            if (_ignoreMerges && _vocab.TryGetValue(ByteLevelAlphabet.Encode(piece), out int whole))
            {
                ids.Add(whole);
                continue;
            }
            ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
        }
    }

    /// <summary>Bytes of all tokens are joined before UTF-8 decoding, so a character split across tokens decodes whole.</summary>
    public override string Decode(IReadOnlyList<DecodedToken> tokens)
    {
        var bytes = new List<byte>();
        foreach (DecodedToken token in tokens) AppendBytes(token, bytes);
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>A vocabulary token's byte-level characters map back to bytes; an added token is its content in UTF-8.</summary>
    public override bool AppendBytes(DecodedToken token, List<byte> bytes)
    {
        int start = bytes.Count;
        if (token.Added || !ByteLevelAlphabet.TryAppendBytes(token.Text, bytes))
        {
            bytes.RemoveRange(start, bytes.Count - start);   // TryAppendBytes may have added a prefix before failing
            bytes.AddRange(Encoding.UTF8.GetBytes(token.Text));
        }
        return true;
    }

    /// <summary>Applies each split regex to every piece of the previous one, keeping matches and the gaps between them.</summary>
    private IEnumerable<string> PreTokenize(string text)
    {
        IEnumerable<string> pieces = [text];
        foreach (Regex split in _splits)
        {
            Regex regex = split;
            pieces = pieces.SelectMany(piece => SplitIsolated(regex, piece));
        }
        return pieces;
    }

    private static IEnumerable<string> SplitIsolated(Regex regex, string text)
    {
        int start = 0;
        for (Match m = regex.Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            int end = m.Index + m.Length;
            // Never cut a surrogate pair: a piece ending on a high surrogate takes its low half along.
            if (char.IsHighSurrogate(text[end - 1]) && end < text.Length && char.IsLowSurrogate(text[end])) end++;
            if (m.Index > start) yield return text[start..m.Index];
            if (end > start) yield return text[Math.Max(start, m.Index)..end];
            start = end;
        }
        if (start < text.Length) yield return text[start..];
    }
}
