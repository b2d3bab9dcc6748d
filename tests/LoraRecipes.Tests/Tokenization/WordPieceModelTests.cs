using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Tokenization;

/// <summary>WordPiece from vocab.txt, with encodings worked out by hand from BERT's rules.</summary>
public class WordPieceModelTests
{
    //                                   0      1      2      3      4      5     6       7     8    9      10       11     12  13  14  15
    private static readonly string[] Vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "##ly", "un", "##aff", "##able", "cafe", "!", ".", "中", "文"];

    private static TextTokenizer Load(string? config = null)
    {
        using var folder = new TokenizerFolder().With("vocab.txt", string.Join("\n", Vocab) + "\n");
        if (config is not null) folder.With("tokenizer_config.json", config);
        return TextTokenizer.Load(folder.Path);
    }

    [Fact]
    public void Lowercases_strips_accents_splits_punctuation_and_adds_cls_sep()
    {
        TextTokenizer bert = Load();
        Assert.Equal([2, 8, 9, 10, 6, 12, 3], bert.Encode("UNaffable quick!", addSpecialTokens: true));
        Assert.Equal([11, 13], bert.Encode("Café."));          // é → e once accents are stripped
        Assert.Equal([14, 15, 5], bert.Encode("中文the"));     // CJK ideographs are words of their own
        Assert.Equal(2, bert.BosId);
        Assert.True(bert.AddBosToken);
    }

    [Fact]
    public void Do_lower_case_false_keeps_case_and_accents()
    {
        TextTokenizer cased = Load("""{"do_lower_case": false}""");
        Assert.Equal([1, 1], cased.Encode("Café The"));
        Assert.Equal([11], Load("""{"do_lower_case": true, "strip_accents": true}""").Encode("CAFÉ"));
        Assert.Equal([1], Load("""{"do_lower_case": true, "strip_accents": false}""").Encode("CAFÉ"));
    }

    [Fact]
    public void Unknown_words_supplementary_cjk_and_long_words()
    {
        TextTokenizer bert = Load();
        Assert.Equal([1, 5], bert.Encode("xyz the"));                 // no piece covers x
        Assert.Equal([6, 7], bert.Encode("quickly"));
        Assert.Equal([1, 1], bert.Encode("𠀀𠀁"));                      // Extension B ideographs are isolated too (Rust walks chars)
        Assert.Equal([1], bert.Encode(string.Concat(Enumerable.Repeat("the", 34)))); // 102 chars > max_input_chars_per_word
        Assert.Equal([2, 5, 3], bert.Encode("[CLS]the[SEP]"));          // literal special tokens are kept whole
        Assert.Equal([5], bert.Encode("\u0007t\u200bhe\u0000"));        // control and format characters are dropped
    }

    [Fact]
    public void Decodes_like_the_wordpiece_decoder()
    {
        TextTokenizer bert = Load();
        Assert.Equal("unaffable quick!", bert.Decode([2, 8, 9, 10, 6, 12, 3]));
        Assert.Equal("[CLS] the quickly. [SEP]", bert.Decode([2, 5, 6, 7, 13, 3], skipSpecialTokens: false));
    }
}
