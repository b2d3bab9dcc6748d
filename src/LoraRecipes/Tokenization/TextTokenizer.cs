using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace LoraRecipes.Tokenization;

/// <summary>
/// A tokenizer loaded from a Hugging Face tokenizer folder, giving the same ids as Hugging Face <c>tokenizers</c>:
/// byte-level BPE (GPT-2, Llama 3, Qwen), SentencePiece BPE (Llama 2, Mistral, Gemma; tokenizer.json or
/// tokenizer.model) and WordPiece (BERT, DistilBERT; tokenizer.json or vocab.txt).
/// </summary>
/// <remarks>
/// Added tokens are cut out of the text first (leftmost, longest first, like HF); the text between them goes
/// to the family's <see cref="TokenModel"/>; the post-processor template (or add_bos_token/add_eos_token from
/// tokenizer_config.json) decides what <c>addSpecialTokens</c> adds.
/// </remarks>
public sealed class TextTokenizer
{
    private readonly TokenModel _model;
    private readonly string?[] _idToToken;
    private readonly Dictionary<string, AddedToken> _addedByContent;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly Regex? _addedTokenRegex;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;

    private TextTokenizer(TokenizerDefinition d)
    {
        _model = d.Model ?? new ByteLevelBpeModel(d);

        _addedById = [];
        _addedByContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (AddedToken token in d.AddedTokens)
        {
            _addedById[token.Id] = token;
            _addedByContent[token.Content] = token;
        }
        _addedTokenRegex = AddedTokenRegex(_addedByContent.Keys);

        IReadOnlyDictionary<string, int> vocab = _model.Vocab;
        VocabSize = Math.Max(vocab.Values.Max(), _addedById.Count == 0 ? -1 : _addedById.Keys.Max()) + 1;
        _idToToken = new string?[VocabSize];
        foreach ((string token, int id) in vocab) _idToToken[id] = token;
        foreach (AddedToken token in d.AddedTokens) _idToToken[token.Id] = token.Content;
        SpecialIds = d.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();

        ChatTemplate = d.ChatTemplate;
        var specialTokens = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach ((string name, string? content) in new[] { ("bos_token", d.BosToken), ("eos_token", d.EosToken), ("pad_token", d.PadToken) })
        {
            if (content is not null) specialTokens[name] = content;
        }
        foreach ((string name, string content) in d.OtherSpecialTokens) specialTokens[name] = content;
        if (d.AdditionalSpecialTokens.Count > 0) specialTokens["additional_special_tokens"] = d.AdditionalSpecialTokens.Cast<object?>().ToList();
        SpecialTokensMap = specialTokens;
        ModelMaxLength = d.ModelMaxLength;
        BosToken = d.BosToken ?? (d.TemplatePrefix.Count > 0 ? IdToToken(d.TemplatePrefix[0]) : null);
        EosToken = d.EosToken;
        BosId = BosToken is null ? null : TokenToId(BosToken);
        EosId = EosToken is null ? null : TokenToId(EosToken);
        PadId = d.PadToken is null ? null : TokenToId(d.PadToken);
        // An explicit add_bos_token/add_eos_token in tokenizer_config.json wins over the post-processor, as in transformers.
        _prefixIds = d.AddBosToken is { } addBos ? (addBos && BosId is { } b ? [b] : []) : [.. d.TemplatePrefix];
        _suffixIds = d.AddEosToken is { } addEos ? (addEos && EosId is { } e ? [e] : []) : [.. d.TemplateSuffix];
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

    /// <summary>
    /// transformers' <c>special_tokens_map</c> (bos_token, eos_token, pad_token, unk_token, … as strings;
    /// additional_special_tokens as a list), the variables a chat template sees besides the conversation.
    /// </summary>
    public IReadOnlyDictionary<string, object?> SpecialTokensMap { get; }

    /// <summary>model_max_length from tokenizer_config.json; null when absent or "unlimited" (1e30).</summary>
    public int? ModelMaxLength { get; }

    /// <summary>Ids of the added tokens marked special (skipped by <see cref="Decode"/> by default).</summary>
    public IReadOnlySet<int> SpecialIds { get; }

    /// <summary>Loads tokenizer.json (else vocab.json + merges.txt, tokenizer.model or vocab.txt) and tokenizer_config.json from <paramref name="modelFolder"/>.</summary>
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
                if (m.Index > start) _model.Encode(text[start..m.Index], start == 0, ids);
                ids.Add(_addedByContent[m.Value].Id);
                start = m.Index + m.Length;
            }
        }
        if (start < text.Length) _model.Encode(text[start..], start == 0, ids);

        if (addSpecialTokens) ids.AddRange(_suffixIds);
        return ids;
    }

    /// <summary>
    /// Decodes ids to text the way the family's HF decoder does (byte-level: bytes joined before UTF-8 decoding,
    /// so a character split across tokens decodes whole; SentencePiece: ▁ to space and byte-fallback tokens to
    /// bytes; WordPiece: words joined by spaces, ## pieces glued). Ids outside the vocabulary are skipped.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<DecodedToken>();
        foreach (int id in ids)
        {
            if (TryGetToken(id, skipSpecialTokens) is { } token) tokens.Add(token);
        }
        return _model.Decode(tokens);
    }

    /// <summary>
    /// A decoder for generation, fed one id at a time: each <see cref="TokenTextStream.Push"/> returns the whole characters
    /// that id completes (a character split across byte-level tokens comes out once, whole).
    /// </summary>
    public TokenTextStream CreateStream(bool skipSpecialTokens = true) => new(this, _model, skipSpecialTokens);

    /// <summary>The token <paramref name="id"/> decodes as; null for a skipped special token or an id outside the vocabulary.</summary>
    internal DecodedToken? TryGetToken(int id, bool skipSpecialTokens)
    {
        if (_addedById.TryGetValue(id, out AddedToken? added))
            return skipSpecialTokens && added.Special ? null : new DecodedToken(added.Content, true);
        return (uint)id < (uint)_idToToken.Length && _idToToken[id] is { } token ? new DecodedToken(token, false) : null;
    }

    /// <summary>The id of a vocabulary entry (byte-level form, e.g. "Ġthe", "▁the", "##ing") or added token; null if unknown.</summary>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out AddedToken? added) ? added.Id
        : _model.Vocab.TryGetValue(token, out int id) ? id
        : null;

    /// <summary>The token string of an id (the model's spelling for vocabulary entries); null if the id is unused.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>Alternation of the added tokens, longest first, so that the longest one at a position wins.</summary>
    private static Regex? AddedTokenRegex(IEnumerable<string> contents)
    {
        string[] sorted = contents.OrderByDescending(c => c.Length).ThenBy(c => c, StringComparer.Ordinal).ToArray();
        return sorted.Length == 0 ? null : new Regex(string.Join("|", sorted.Select(Regex.Escape)), RegexOptions.CultureInvariant);
    }
}
