using Microsoft.ML.Tokenizers;

namespace LoraRecipes.Tokenization;

/// <summary>
/// A SentencePiece <c>tokenizer.model</c> (Llama 2, Mistral), encoded by Microsoft.ML.Tokenizers'
/// <see cref="LlamaTokenizer"/>: the dummy-prefix <c>▁</c> before each segment between added tokens (HF's slow
/// LlamaTokenizer with <c>legacy: true</c>), BPE over the pieces' scores, byte fallback to <c>&lt;0xNN&gt;</c>.
/// BOS/EOS are added by <see cref="TextTokenizer"/>, per add_bos_token/add_eos_token.
/// </summary>
internal sealed class SentencePieceModel : TokenModel
{
    private readonly SentencePieceTokenizer _sentencePiece;
    private readonly Dictionary<string, int> _vocab;

    private SentencePieceModel(SentencePieceTokenizer sentencePiece)
    {
        _sentencePiece = sentencePiece;
        _vocab = new Dictionary<string, int>(sentencePiece.Vocabulary, StringComparer.Ordinal);
    }

    public override IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>The control tokens (unknown, BOS, EOS) the model file defines.</summary>
    public IEnumerable<AddedToken> ControlTokens =>
        new[] { (_sentencePiece.UnknownToken, _sentencePiece.UnknownId), (_sentencePiece.BeginningOfSentenceToken, _sentencePiece.BeginningOfSentenceId), (_sentencePiece.EndOfSentenceToken, _sentencePiece.EndOfSentenceId) }
            .Where(t => !string.IsNullOrEmpty(t.Item1) && t.Item2 >= 0)
            .Select(t => new AddedToken(t.Item2, t.Item1, Special: true));

    public string BosToken => _sentencePiece.BeginningOfSentenceToken;
    public string EosToken => _sentencePiece.EndOfSentenceToken;

    public static SentencePieceModel Load(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            return new SentencePieceModel(LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false));
        }
        catch (Exception e) when (e is IOException or ArgumentException or FormatException or InvalidOperationException or NotSupportedException
                                   or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new TokenizerLoadException(path, $"not a SentencePiece BPE model Microsoft.ML.Tokenizers can read: {e.Message}", e);
        }
    }

    public override void Encode(string text, bool atStart, List<int> ids) =>
        ids.AddRange(_sentencePiece.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false, considerPreTokenization: false, considerNormalization: true));

    /// <summary>As SentencePiece decodes: ▁ to space, bytes joined, and the dummy prefix's space removed.</summary>
    public override string Decode(IReadOnlyList<DecodedToken> tokens) =>
        SentencePieceBpeModel.DecodePieces(tokens, stripLeadingSpace: _sentencePiece.AddDummyPrefix);

    public override bool AppendBytes(DecodedToken token, List<byte> bytes)
    {
        SentencePieceBpeModel.AppendPieceBytes(token, bytes);
        return true;
    }

    public override bool StripsLeadingSpace => _sentencePiece.AddDummyPrefix;
}
