using System.Runtime.InteropServices;

namespace LoraRecipes.Tokenization;

/// <summary>
/// Decodes generated ids one at a time into whole characters (<see cref="TextTokenizer.CreateStream"/>). Byte-level BPE
/// and SentencePiece tokens become bytes that go through a <see cref="Utf8StreamDecoder"/>, so a character split across
/// tokens is held until it completes and only invalid bytes become U+FFFD; the pieces joined equal
/// <see cref="TextTokenizer.Decode"/> of all the ids (plus <see cref="Finish"/>'s flush). Families that decode whole
/// sequences only (WordPiece) are re-decoded and the new suffix returned. O(1) per token for the byte families.
/// </summary>
public sealed class TokenTextStream
{
    private readonly TextTokenizer _tokenizer;
    private readonly TokenModel _model;
    private readonly bool _skipSpecialTokens;
    private readonly Utf8StreamDecoder _utf8 = new();
    private readonly List<byte> _bytes = new(16);
    private bool _atStart = true;
    // Fallback (no byte form): every id so far and the text already returned.
    private readonly List<int> _ids = [];
    private string _emitted = "";

    internal TokenTextStream(TextTokenizer tokenizer, TokenModel model, bool skipSpecialTokens) =>
        (_tokenizer, _model, _skipSpecialTokens) = (tokenizer, model, skipSpecialTokens);

    /// <summary>Bytes of a character still waiting for its next token (0 for whole-sequence families).</summary>
    public int HeldBytes => _utf8.HeldBytes;

    /// <summary>The characters <paramref name="id"/> completes; empty while a split character is held or for a skipped special token.</summary>
    public string Push(int id)
    {
        if (_tokenizer.TryGetToken(id, _skipSpecialTokens) is not { } token) return "";
        _bytes.Clear();
        if (!_model.AppendBytes(token, _bytes)) return PushWhole(id);
        return Trim(_utf8.Push(CollectionsMarshal.AsSpan(_bytes)));
    }

    /// <summary>
    /// Ends the stream. A character still incomplete (generation stopped between its tokens) becomes one U+FFFD with
    /// <paramref name="dropIncomplete"/> false, as a whole-sequence decode would show it, or is left out with true.
    /// </summary>
    public string Finish(bool dropIncomplete = false)
    {
        if (dropIncomplete)
        {
            _utf8.Reset();
            return "";
        }
        return Trim(_utf8.Flush());
    }

    /// <summary>SentencePiece's dummy prefix: the first space of the decoded text is dropped.</summary>
    private string Trim(string text)
    {
        if (!_atStart || text.Length == 0) return text;
        _atStart = false;
        return _model.StripsLeadingSpace && text[0] == ' ' ? text[1..] : text;
    }

    private string PushWhole(int id)
    {
        _ids.Add(id);
        string full = _tokenizer.Decode(_ids, _skipSpecialTokens);
        // WordPiece's clean-up only removes spaces before punctuation, so the earlier text stays a prefix.
        string added = full.StartsWith(_emitted, StringComparison.Ordinal) ? full[_emitted.Length..] : "";
        _emitted = full;
        return added;
    }
}
