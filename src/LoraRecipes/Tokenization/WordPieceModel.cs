using System.Text;

namespace LoraRecipes.Tokenization;

/// <summary>
/// WordPiece (BERT, DistilBERT): <see cref="BertBasicTokenizer"/> splits the text into words, then each word is cut
/// greedily into the longest vocabulary entries, pieces after the first spelled with <c>##</c>; a word with a part
/// no entry covers, or longer than <c>max_input_chars_per_word</c> characters, becomes the unknown token.
/// </summary>
internal sealed class WordPieceModel : TokenModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly BertBasicTokenizer _basic;
    private readonly string _prefix;
    private readonly int _maxInputCharsPerWord;
    private readonly int _unkId;

    public WordPieceModel(Dictionary<string, int> vocab, BertBasicTokenizer basic, string unkToken, string continuingSubwordPrefix = "##", int maxInputCharsPerWord = 100)
    {
        _vocab = vocab;
        _basic = basic;
        _prefix = continuingSubwordPrefix;
        _maxInputCharsPerWord = maxInputCharsPerWord;
        _unkId = vocab.TryGetValue(unkToken, out int unk) ? unk
            : throw new ArgumentException($"the unknown token \"{unkToken}\" is not in the vocabulary", nameof(unkToken));
    }

    public override IReadOnlyDictionary<string, int> Vocab => _vocab;

    public override void Encode(string text, bool atStart, List<int> ids)
    {
        foreach (string word in _basic.Split(text)) EncodeWord(word, ids);
    }

    private void EncodeWord(string word, List<int> ids)
    {
        if (word.EnumerateRunes().Count() > _maxInputCharsPerWord)
        {
            ids.Add(_unkId);
            return;
        }
        int count = ids.Count;
        int start = 0;
        while (start < word.Length)
        {
            int end = word.Length;
            int found = -1;
            while (start < end)
            {
                string piece = start > 0 ? _prefix + word[start..end] : word[start..end];
                if (_vocab.TryGetValue(piece, out found)) break;
                found = -1;
                end -= char.IsLowSurrogate(word[end - 1]) && end - 2 >= start ? 2 : 1; // one character back
            }
            if (found < 0)
            {
                ids.RemoveRange(count, ids.Count - count);
                ids.Add(_unkId);
                return;
            }
            ids.Add(found);
            start = end;
        }
    }

    /// <summary>
    /// HF's WordPiece decoder: tokens joined by spaces, <c>##</c> pieces glued to the previous one, then
    /// <c>clean_up_tokenization_spaces</c> (on for BERT): no space before . , ! ? and English contractions.
    /// </summary>
    public override string Decode(IReadOnlyList<DecodedToken> tokens)
    {
        var b = new StringBuilder();
        for (int i = 0; i < tokens.Count; i++)
        {
            string text = tokens[i].Text;
            if (!tokens[i].Added && i > 0 && text.StartsWith(_prefix, StringComparison.Ordinal)) text = text[_prefix.Length..];
            else if (i > 0) b.Append(' ');
            b.Append(text);
        }
        return b.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
            .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re").ToString();
    }
}
