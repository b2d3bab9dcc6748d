using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace LoraRecipes.Tokenization;

/// <summary>
/// A byte-level BPE tokenizer (GPT-2, Llama 3, Qwen) loaded from a Hugging Face tokenizer folder,
/// giving the same ids as Hugging Face <c>tokenizers</c>.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (byte-level, in-memory vocabulary and merges)
/// does the merging. Around it this class does what tokenizer.json asks and BpeTokenizer does not:
/// added tokens are cut out of the text first (leftmost, longest first, like HF), the remaining text
/// is normalized and split by the model's regexes in sequence, and with <c>ignore_merges</c> (Llama 3)
/// a piece that is already a vocabulary entry is taken whole before any merging. Decoding maps
/// tokens back to bytes and decodes UTF-8 once at the end, so characters split across tokens
/// come back whole.
/// Known difference: .NET regexes see UTF-16, so a supplementary-plane letter (CJK extension B) does not
/// match <c>\p{L}</c> and may be split differently from HF; the text still round-trips exactly.
/// </remarks>
public sealed class TextTokenizer
{
    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _idToToken;
    private readonly Dictionary<string, AddedToken> _addedByContent;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly Regex? _addedTokenRegex;
    private readonly IReadOnlyList<Regex> _splits;
    private readonly NormalizationForm? _normalization;
    private readonly bool _ignoreMerges;
    private readonly bool _addPrefixSpace;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;

    private TextTokenizer(TokenizerDefinition d)
    {
        _vocab = d.Vocab;
        _splits = d.Splits;
        _normalization = d.Normalization;
        _ignoreMerges = d.IgnoreMerges;
        _addPrefixSpace = d.AddPrefixSpace;

        _addedById = [];
        _addedByContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (AddedToken token in d.AddedTokens)
        {
            _addedById[token.Id] = token;
            _addedByContent[token.Content] = token;
        }
        _addedTokenRegex = AddedTokenRegex(_addedByContent.Keys);

        VocabSize = Math.Max(_vocab.Values.Max(), _addedById.Count == 0 ? -1 : _addedById.Keys.Max()) + 1;
        _idToToken = new string?[VocabSize];
        foreach ((string token, int id) in _vocab) _idToToken[id] = token;
        foreach (AddedToken token in d.AddedTokens) _idToToken[token.Id] = token.Content;
        SpecialIds = d.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();

        ChatTemplate = d.ChatTemplate;
        ModelMaxLength = d.ModelMaxLength;
        BosToken = d.BosToken ?? (d.TemplatePrefix.Count > 0 ? IdToToken(d.TemplatePrefix[0]) : null);
        EosToken = d.EosToken;
        BosId = BosToken is null ? null : TokenToId(BosToken);
        EosId = EosToken is null ? null : TokenToId(EosToken);
        PadId = d.PadToken is null ? null : TokenToId(d.PadToken);
        // An explicit add_bos_token/add_eos_token in tokenizer_config.json wins over the post-processor, as in transformers.
        _prefixIds = d.AddBosToken is { } addBos ? (addBos && BosId is { } b ? [b] : []) : [.. d.TemplatePrefix];
        _suffixIds = d.AddEosToken is { } addEos ? (addEos && EosId is { } e ? [e] : []) : [.. d.TemplateSuffix];

        _bpe = BpeTokenizer.Create(new BpeOptions(_vocab)
        {
            Merges = d.Merges.Select(m => m.Left + " " + m.Right),
            ByteLevel = true,
        });
    }

    /// <summary>Number of ids: one past the largest id of the vocabulary and the added tokens.</summary>
    public int VocabSize { get; }

    /// <summary>Beginning-of-sequence token and its id, from tokenizer_config.json or the post-processor template.</summary>
    public string? BosToken { get; }
    public int? BosId { get; }

    /// <summary>End-of-sequence token and its id, from tokenizer_config.json.</summary>
    public string? EosToken { get; }
    public int? EosId { get; }

    /// <summary>Padding token id, from tokenizer_config.json.</summary>
    public int? PadId { get; }

    /// <summary>Whether <see cref="Encode"/> with <c>addSpecialTokens</c> prepends <see cref="BosId"/>.</summary>
    public bool AddBosToken => _prefixIds.Length > 0 && _prefixIds[0] == BosId;

    /// <summary>The Jinja chat template from tokenizer_config.json, if any.</summary>
    public string? ChatTemplate { get; }

    /// <summary>model_max_length from tokenizer_config.json; null when absent or "unlimited" (1e30).</summary>
    public int? ModelMaxLength { get; }

    /// <summary>Ids of the added tokens marked special (skipped by <see cref="Decode"/> by default).</summary>
    public IReadOnlySet<int> SpecialIds { get; }

    /// <summary>Loads tokenizer.json (or vocab.json + merges.txt) and tokenizer_config.json from <paramref name="modelFolder"/>.</summary>
    /// <exception cref="TokenizerLoadException">A file is missing, malformed or unsupported.</exception>
    public static TextTokenizer Load(string modelFolder) => new(TokenizerFolderReader.Read(modelFolder));

    /// <summary>
    /// Encodes <paramref name="text"/>. Added tokens written literally in the text (<c>&lt;|im_start|&gt;</c>)
    /// become their single id; <paramref name="addSpecialTokens"/> adds what the template adds (BOS for Llama 3).
    /// </summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 2 + 4);
        if (addSpecialTokens) ids.AddRange(_prefixIds);

        int start = 0;
        if (_addedTokenRegex is not null)
        {
            for (Match m = _addedTokenRegex.Match(text); m.Success; m = m.NextMatch())
            {
                EncodeOrdinaryText(text.AsSpan(start, m.Index - start), ids);
                ids.Add(_addedByContent[m.Value].Id);
                start = m.Index + m.Length;
            }
        }
        EncodeOrdinaryText(text.AsSpan(start), ids);

        if (addSpecialTokens) ids.AddRange(_suffixIds);
        return ids;
    }

    /// <summary>
    /// Decodes ids to text. Bytes of all tokens are joined before UTF-8 decoding, so a character split across
    /// tokens decodes whole; invalid UTF-8 becomes U+FFFD. Ids outside the vocabulary are skipped.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (_addedById.TryGetValue(id, out AddedToken? added))
            {
                if (!(skipSpecialTokens && added.Special)) bytes.AddRange(Encoding.UTF8.GetBytes(added.Content));
                continue;
            }
            if ((uint)id >= (uint)_idToToken.Length || _idToToken[id] is not { } token) continue;
            if (!ByteLevelAlphabet.TryAppendBytes(token, bytes)) bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>The id of a vocabulary entry (byte-level form, e.g. "Ġthe") or added token; null if unknown.</summary>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out AddedToken? added) ? added.Id
        : _vocab.TryGetValue(token, out int id) ? id
        : null;

    /// <summary>The token string of an id (byte-level form for vocabulary entries); null if the id is unused.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    private void EncodeOrdinaryText(ReadOnlySpan<char> span, List<int> ids)
    {
        if (span.IsEmpty) return;
        string text = span.ToString();
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

    /// <summary>Alternation of the added tokens, longest first, so that the longest one at a position wins.</summary>
    private static Regex? AddedTokenRegex(IEnumerable<string> contents)
    {
        string[] sorted = contents.OrderByDescending(c => c.Length).ThenBy(c => c, StringComparer.Ordinal).ToArray();
        return sorted.Length == 0 ? null : new Regex(string.Join("|", sorted.Select(Regex.Escape)), RegexOptions.CultureInvariant);
    }
}
