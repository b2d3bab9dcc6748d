using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Tokenization;

/// <summary>A hand-written byte-level BPE whose encodings are worked out by hand from the merge ranks.</summary>
public class TextTokenizerTests
{
    // ids: a0 b1 c2 d3 Ġ4 bc5 ab6 Ġa7 cd8 abc9 Ġabc10 dd11 bcd12 Ġab13 dddd14; abd17 is in the vocabulary
    // but no merge makes it (only ignore_merges reaches it). Added tokens: <|x|>15, <s>16 (both special).
    private const string Vocab =
        """{"a":0,"b":1,"c":2,"d":3,"Ġ":4,"bc":5,"ab":6,"Ġa":7,"cd":8,"abc":9,"Ġabc":10,"dd":11,"bcd":12,"Ġab":13,"dddd":14,"abd":17}""";

    private static readonly string[] Merges = ["b c", "a b", "Ġ a", "c d", "a bc", "Ġa bc", "d d", "bc d", "Ġ ab", "dd dd"];

    private static string TokenizerJson(bool mergesAsPairs = false, bool ignoreMerges = false, string? vocab = null, string[]? merges = null)
    {
        string mergesJson = string.Join(",", (merges ?? Merges).Select(m =>
            mergesAsPairs ? $"[\"{m.Split(' ')[0]}\",\"{m.Split(' ')[1]}\"]" : $"\"{m}\""));
        return """
            {
              "version": "1.0",
              "added_tokens": [
                {"id": 15, "content": "<|x|>", "special": true},
                {"id": 16, "content": "<s>", "special": true}
              ],
              "normalizer": null,
              "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": " ?\\p{L}+|\\s+"}, "behavior": "Isolated", "invert": false},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
              ]},
              "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [16], "tokens": ["<s>"]}}},
              "decoder": {"type": "ByteLevel"},
              "model": {"type": "BPE", "ignore_merges": __IGNORE__,
                "vocab": __VOCAB__,
                "merges": [__MERGES__]}
            }
            """
            .Replace("__IGNORE__", ignoreMerges ? "true" : "false")
            .Replace("__VOCAB__", vocab ?? Vocab)
            .Replace("__MERGES__", mergesJson);
    }

    private static TextTokenizer LoadTokenizer(string tokenizerJson, string? config = null)
    {
        using var folder = new TokenizerFolder().With("tokenizer.json", tokenizerJson);
        if (config is not null) folder.With("tokenizer_config.json", config);
        return TextTokenizer.Load(folder.Path);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Encodes_by_merge_rank_as_worked_out_by_hand(bool mergesAsPairs)
    {
        TextTokenizer tokenizer = LoadTokenizer(TokenizerJson(mergesAsPairs));

        // "abcd":  a b c d  -> rank 0 (b c): a bc d -> rank 4 (a bc): abc d               = [9, 3]
        //          (merging left to right would give ab cd instead)
        // " abd":  Ġ a b d  -> rank 1 (a b) beats rank 2 (Ġ a): Ġ ab d -> rank 8: Ġab d  = [13, 3]
        // " dddd": Ġ d d d d -> rank 6 (d d), leftmost first, no overlap: Ġ dd dd -> rank 9 = [4, 14]
        // " ddd":  Ġ d d d   -> rank 6 leftmost: Ġ dd d                                  = [4, 11, 3]
        // " abc":  Ġ a b c   -> rank 0: Ġ a bc -> rank 2: Ġa bc -> rank 5: Ġabc           = [10]
        IReadOnlyList<int> ids = tokenizer.Encode("abcd abd dddd ddd abc");

        Assert.Equal([9, 3, 13, 3, 4, 14, 4, 11, 3, 10], ids);
        Assert.Equal("abcd abd dddd ddd abc", tokenizer.Decode(ids));
    }

    [Fact]
    public void Added_tokens_in_the_text_are_single_ids_and_the_template_adds_bos()
    {
        TextTokenizer tokenizer = LoadTokenizer(TokenizerJson());

        Assert.Equal([6, 15, 6], tokenizer.Encode("ab<|x|>ab"));
        Assert.Equal([16, 6, 15, 6], tokenizer.Encode("ab<|x|>ab", addSpecialTokens: true));
        Assert.Equal("abab", tokenizer.Decode([16, 6, 15, 6]));
        Assert.Equal("<s>ab<|x|>ab", tokenizer.Decode([16, 6, 15, 6], skipSpecialTokens: false));
        Assert.Equal("<s>", tokenizer.BosToken);
        Assert.Equal(16, tokenizer.BosId);
        Assert.True(tokenizer.AddBosToken);
        Assert.Equal(new HashSet<int> { 15, 16 }, tokenizer.SpecialIds);
        Assert.Equal(18, tokenizer.VocabSize);
        Assert.Equal(13, tokenizer.TokenToId("Ġab"));
        Assert.Equal("Ġab", tokenizer.IdToToken(13));
        Assert.Null(tokenizer.TokenToId("zz"));
        Assert.Null(tokenizer.IdToToken(99));
    }

    [Fact]
    public void Ignore_merges_takes_a_whole_vocabulary_entry_first()
    {
        // "abd": by merges a b d -> ab d = [6, 3]; with ignore_merges the entry "abd" (17) is used whole.
        Assert.Equal([6, 3], LoadTokenizer(TokenizerJson()).Encode("abd"));
        Assert.Equal([17], LoadTokenizer(TokenizerJson(ignoreMerges: true)).Encode("abd"));
    }

    [Fact]
    public void Tokenizer_config_overrides_the_template_and_names_the_special_tokens()
    {
        const string config = """
            {"add_bos_token": false, "bos_token": {"content": "<s>", "special": true}, "eos_token": "<|x|>",
             "pad_token": null, "chat_template": "{{ messages }}", "model_max_length": 1000000000000000019884624838656}
            """;
        TextTokenizer tokenizer = LoadTokenizer(TokenizerJson(), config);

        Assert.Equal([6], tokenizer.Encode("ab", addSpecialTokens: true));
        Assert.False(tokenizer.AddBosToken);
        Assert.Equal(16, tokenizer.BosId);
        Assert.Equal(15, tokenizer.EosId);
        Assert.Equal("<|x|>", tokenizer.EosToken);
        Assert.Null(tokenizer.PadId);
        Assert.Equal("{{ messages }}", tokenizer.ChatTemplate);
        Assert.Null(tokenizer.ModelMaxLength);
    }

    [Fact]
    public void Loads_the_gpt2_vocab_and_merges_layout()
    {
        using var folder = new TokenizerFolder()
            .With("vocab.json", Vocab)
            .With("merges.txt", "#version: 0.2\n" + string.Join("\n", Merges) + "\n");
        TextTokenizer tokenizer = TextTokenizer.Load(folder.Path);

        // GPT-2's regex splits " abd" the same way as the test regex.
        Assert.Equal([9, 3, 13, 3], tokenizer.Encode("abcd abd"));
    }

    [Fact]
    public void Bad_json_names_the_file_and_position()
    {
        var e = Assert.Throws<TokenizerLoadException>(() => LoadTokenizer("{ \"model\": { \"vocab\": "));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void Missing_vocab_names_the_json_path()
    {
        var e = Assert.Throws<TokenizerLoadException>(() => LoadTokenizer("""{"model": {"type": "BPE", "merges": []}}"""));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("$.model.vocab is missing", e.Message);
    }

    [Fact]
    public void A_merge_of_unknown_tokens_names_the_merge()
    {
        var e = Assert.Throws<TokenizerLoadException>(() => LoadTokenizer(TokenizerJson(merges: ["b c", "x y"])));
        Assert.Contains("$.model.merges[1]", e.Message);
        Assert.Contains("\"x\", which is not in the vocabulary", e.Message);
    }

    [Fact]
    public void A_merge_whose_result_is_missing_is_rejected()
    {
        var e = Assert.Throws<TokenizerLoadException>(() => LoadTokenizer(TokenizerJson(merges: ["a d"])));
        Assert.Contains("$.model.merges[0]", e.Message);
        Assert.Contains("\"ad\"", e.Message);
    }

    [Fact]
    public void Unsupported_models_and_wrong_types_are_explained()
    {
        var unigram = Assert.Throws<TokenizerLoadException>(() => LoadTokenizer("""{"model": {"type": "Unigram", "vocab": []}}"""));
        Assert.Contains("$.model.type", unigram.Message);

        var vocabArray = Assert.Throws<TokenizerLoadException>(() => LoadTokenizer("""{"model": {"type": "BPE", "vocab": [], "merges": []}}"""));
        Assert.Contains("$.model.vocab: expected an object, found an array", vocabArray.Message);

        var whitespace = Assert.Throws<TokenizerLoadException>(() => LoadTokenizer(
            """{"pre_tokenizer": {"type": "WhitespaceSplit"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"""));
        Assert.Contains("$.pre_tokenizer.type", whitespace.Message);
    }

    [Fact]
    public void Broken_tokenizer_config_and_missing_files_are_reported()
    {
        var config = Assert.Throws<TokenizerLoadException>(() => LoadTokenizer(TokenizerJson(), """{"bos_token": 3}"""));
        Assert.Contains("tokenizer_config.json", config.Message);
        Assert.Contains("$.bos_token", config.Message);

        using var empty = new TokenizerFolder();
        var none = Assert.Throws<TokenizerLoadException>(() => TextTokenizer.Load(empty.Path));
        Assert.Contains("tokenizer.json", none.Message);

        using var noMerges = new TokenizerFolder().With("vocab.json", Vocab);
        var merges = Assert.Throws<TokenizerLoadException>(() => TextTokenizer.Load(noMerges.Path));
        Assert.Contains("merges.txt", merges.Message);
    }
}
