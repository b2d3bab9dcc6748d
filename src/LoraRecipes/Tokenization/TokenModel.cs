namespace LoraRecipes.Tokenization;

/// <summary>A token to decode: a vocabulary entry in the model's own spelling, or an added token's content.</summary>
internal readonly record struct DecodedToken(string Text, bool Added);

/// <summary>
/// The part of a tokenizer that differs between families: how ordinary text (the text between added tokens)
/// becomes ids, and how tokens become text again. <see cref="TextTokenizer"/> does the rest (added tokens,
/// BOS/EOS, the post-processor template) the same way for all of them.
/// </summary>
internal abstract class TokenModel
{
    /// <summary>Vocabulary entries in the model's spelling ("Ġthe", "▁the", "##ing").</summary>
    public abstract IReadOnlyDictionary<string, int> Vocab { get; }

    /// <summary>Appends the ids of <paramref name="text"/>; <paramref name="atStart"/> is true for the segment at offset 0.</summary>
    public abstract void Encode(string text, bool atStart, List<int> ids);

    /// <summary>Joins decoded tokens into text.</summary>
    public abstract string Decode(IReadOnlyList<DecodedToken> tokens);

    /// <summary>
    /// For families whose decoding is "each token's bytes, joined, then UTF-8" (byte-level BPE, SentencePiece): appends
    /// <paramref name="token"/>'s bytes and returns true, so <see cref="TokenTextStream"/> can decode token by token.
    /// False (the default) for families that decode whole sequences only (WordPiece's spacing rules).
    /// </summary>
    public virtual bool AppendBytes(DecodedToken token, List<byte> bytes) => false;

    /// <summary>True when the decoded text loses one leading space (SentencePiece's dummy prefix).</summary>
    public virtual bool StripsLeadingSpace => false;
}
