using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Tokenization;

/// <summary>SentencePiece-style BPE from tokenizer.json (Llama 2 / Mistral / Gemma layout), worked out by hand.</summary>
public class SentencePieceBpeModelTests
{
    // <unk>0 <s>1 </s>2 ▁3 a4 b5 ▁a6 ab7 ▁ab8 <0xE2>9 <0x82>10 <0xAC>11; merges by rank: ▁+a, a+b, ▁a+b.
    private const string Vocab = """{"<unk>":0,"<s>":1,"</s>":2,"▁":3,"a":4,"b":5,"▁a":6,"ab":7,"▁ab":8,"<0xE2>":9,"<0x82>":10,"<0xAC>":11}""";

    internal static string TokenizerJson(string normalizer, string preTokenizer, string decoder) => """
        {
          "added_tokens": [
            {"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}
          ],
          "normalizer": __NORMALIZER__,
          "pre_tokenizer": __PRE__,
          "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
          "decoder": __DECODER__,
          "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true, "vocab": __VOCAB__, "merges": ["▁ a", "a b", "▁a b"]}
        }
        """.Replace("__NORMALIZER__", normalizer).Replace("__PRE__", preTokenizer).Replace("__DECODER__", decoder).Replace("__VOCAB__", Vocab);

    internal const string Llama2Normalizer = """{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}""";
    internal const string Llama2Decoder = """{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}""";

    internal static TextTokenizer Load(string json, string? config = null)
    {
        using var folder = new TokenizerFolder().With("tokenizer.json", json);
        if (config is not null) folder.With("tokenizer_config.json", config);
        return TextTokenizer.Load(folder.Path);
    }

    [Fact]
    public void Llama2_layout_merges_by_rank_with_byte_fallback_and_fused_unknowns()
    {
        TextTokenizer llama = Load(TokenizerJson(Llama2Normalizer, "null", Llama2Decoder));
        // "▁ab": ▁ a b -> rank 0 (▁ a): ▁a b -> rank 2 (▁a b): ▁ab
        Assert.Equal([1, 8], llama.Encode("ab", addSpecialTokens: true));
        // "▁ab▁b€": € is not in the vocabulary and falls back to its three UTF-8 bytes
        Assert.Equal([8, 3, 5, 9, 10, 11], llama.Encode("ab b€"));
        // x and y are unknown and, with fuse_unk, one <unk>
        Assert.Equal([3, 0, 6], llama.Encode("xy a"));
        // The Prepend normalizer adds ▁ to every segment between added tokens, as HF does.
        Assert.Equal([1, 8], llama.Encode("<s>ab"));
    }

    [Fact]
    public void Llama2_layout_decodes_bytes_and_strips_the_dummy_prefix()
    {
        TextTokenizer llama = Load(TokenizerJson(Llama2Normalizer, "null", Llama2Decoder));
        Assert.Equal("ab b€", llama.Decode([1, 8, 3, 5, 9, 10, 11]));
        Assert.Equal("<s> ab", llama.Decode([1, 8], skipSpecialTokens: false));
    }

    [Fact]
    public void Metaspace_first_scheme_prepends_only_at_the_start_of_the_input()
    {
        string metaspace = """{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}""";
        TextTokenizer mistral = Load(TokenizerJson("null", metaspace, """{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}"""));
        Assert.Equal([8], mistral.Encode("ab"));
        Assert.Equal([1, 7], mistral.Encode("<s>ab"));  // after an added token: no ▁
        Assert.Equal([8], mistral.Encode(" ab"));       // already starts with ▁: not doubled
        Assert.Equal("ab", mistral.Decode([8]));
    }

    [Fact]
    public void Gemma_layout_replaces_spaces_and_keeps_the_leading_space_on_decode()
    {
        string replace = """{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}""";
        string split = """{"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false}""";
        string decoder = """{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]}""";
        TextTokenizer gemma = Load(TokenizerJson(replace, split, decoder), """{"add_bos_token": true, "bos_token": "<s>"}""");
        Assert.Equal([1, 7, 8], gemma.Encode("ab ab", addSpecialTokens: true));
        Assert.Equal("ab ab", gemma.Decode([1, 7, 8]));
        Assert.Equal(" ab", gemma.Decode([8]));
    }
}
