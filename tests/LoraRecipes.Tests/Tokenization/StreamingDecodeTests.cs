using System.Text;
using LoraRecipes.Evaluation;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Tokenization;

/// <summary>
/// Text out during generation: bytes held until a character completes, only invalid bytes as U+FFFD, and the
/// streamed pieces equal to an independent whole-sequence decode (<see cref="Encoding.UTF8"/>, <see cref="TextTokenizer.Decode"/>).
/// </summary>
public class StreamingDecodeTests : IClassFixture<BuiltinTokenizerTests.Builtin>
{
    // CJK (3 bytes), emoji with a skin-tone modifier (4 + 4 bytes), e + combining acute (1 + 2), ñ (2), ASCII.
    private const string Mixed = "你好, 世界! 👍🏽 e\u0301 señor 高血压";
    private readonly TextTokenizer _builtin;

    public StreamingDecodeTests(BuiltinTokenizerTests.Builtin builtin) => _builtin = builtin.Tokenizer;

    [Fact]
    public void A_character_split_across_pushes_comes_out_once_whole()
    {
        var decoder = new Utf8StreamDecoder();
        Assert.Equal("", decoder.Push([0xE4]));          // 你 = E4 BD A0
        Assert.Equal(1, decoder.HeldBytes);
        Assert.Equal("", decoder.Push([0xBD]));
        Assert.Equal("你", decoder.Push([0xA0, 0xF0, 0x9F]));   // 你 completes; 👍 = F0 9F 91 8D starts
        Assert.Equal(2, decoder.HeldBytes);
        Assert.Equal("👍", decoder.Push([0x91, 0x8D]));
        Assert.Equal("e\u0301", decoder.Push([0x65, 0xCC, 0x81]));
        Assert.Equal("", decoder.Flush());
    }

    [Theory]
    [InlineData(new byte[] { 0x80 }, "\uFFFD")]                              // a continuation byte alone
    [InlineData(new byte[] { 0xC0, 0xAF }, "\uFFFD\uFFFD")]                  // overlong lead C0
    [InlineData(new byte[] { 0xE4, 0xBD, 0x41 }, "\uFFFDA")]                 // 你 cut short by 'A': one U+FFFD for the maximal subpart
    [InlineData(new byte[] { 0xE0, 0x80, 0x80 }, "\uFFFD\uFFFD\uFFFD")]      // overlong 3-byte form
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "\uFFFD\uFFFD\uFFFD")]      // a UTF-16 surrogate encoded in UTF-8
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 }, "\uFFFD\uFFFD\uFFFD\uFFFD")]   // above U+10FFFF
    [InlineData(new byte[] { 0xFF, 0x41 }, "\uFFFDA")]
    public void Only_bytes_invalid_in_themselves_become_replacement_characters(byte[] bytes, string expected)
    {
        var whole = new Utf8StreamDecoder();
        Assert.Equal(expected, whole.Push(bytes) + whole.Flush());
        var oneByOne = new Utf8StreamDecoder();
        Assert.Equal(expected, string.Concat(bytes.Select(b => oneByOne.Push([b]))) + oneByOne.Flush());
        Assert.Equal(Encoding.UTF8.GetString(bytes), expected);   // the BCL's decoder agrees on the expectation
    }

    [Fact]
    public void An_incomplete_character_at_the_end_is_one_replacement_on_flush()
    {
        var decoder = new Utf8StreamDecoder();
        Assert.Equal("a", decoder.Push([0x61, 0xF0, 0x9F, 0x91]));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal(0, decoder.HeldBytes);
    }

    [Fact]
    public void Any_split_of_any_bytes_decodes_as_the_whole_does()
    {
        var random = new Random(7);
        byte[] valid = Encoding.UTF8.GetBytes(Mixed);
        for (int trial = 0; trial < 2000; trial++)
        {
            // Valid text with random damage: bytes dropped, replaced or inserted.
            var bytes = valid.ToList();
            for (int edits = random.Next(0, 4); edits > 0; edits--)
            {
                int at = random.Next(bytes.Count);
                switch (random.Next(3))
                {
                    case 0: bytes.RemoveAt(at); break;
                    case 1: bytes[at] = (byte)random.Next(256); break;
                    default: bytes.Insert(at, (byte)random.Next(256)); break;
                }
            }
            var decoder = new Utf8StreamDecoder();
            var streamed = new StringBuilder();
            for (int start = 0; start < bytes.Count;)
            {
                int length = Math.Min(random.Next(1, 5), bytes.Count - start);
                streamed.Append(decoder.Push(bytes.GetRange(start, length).ToArray()));
                start += length;
            }
            streamed.Append(decoder.Flush());
            Assert.Equal(Encoding.UTF8.GetString(bytes.ToArray()), streamed.ToString());
        }
    }

    [Fact]
    public void Byte_level_tokens_one_byte_each_stream_whole_characters()
    {
        // The worst case of a byte-level vocabulary: every UTF-8 byte its own token.
        int[] ids = Encoding.UTF8.GetBytes(Mixed).Select(b => _builtin.TokenToId(ByteLevelAlphabet.ToChar(b).ToString())!.Value).ToArray();
        var stream = _builtin.CreateStream();
        var pieces = ids.Select(stream.Push).ToList();
        Assert.Equal(Mixed, string.Concat(pieces) + stream.Finish());
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
        // 你 is three tokens: the first two print nothing, the third prints the character.
        Assert.Equal(["", "", "你", "", "", "好", ","], pieces.Take(7));
        Assert.Equal(Mixed, _builtin.Decode(ids));
    }

    [Fact]
    public void Streaming_any_ids_equals_decoding_them_together()
    {
        var random = new Random(11);
        int vocab = _builtin.VocabSize;
        for (int trial = 0; trial < 300; trial++)
        {
            int[] ids = Enumerable.Range(0, random.Next(1, 40)).Select(_ => random.Next(vocab)).ToArray();
            var stream = _builtin.CreateStream();
            string streamed = string.Concat(ids.Select(stream.Push)) + stream.Finish();
            Assert.Equal(_builtin.Decode(ids), streamed);
        }
        // The model's own encoding of real text, CJK and emoji included.
        int[] encoded = [.. _builtin.Encode(Mixed)];
        var again = _builtin.CreateStream();
        Assert.Equal(Mixed, string.Concat(encoded.Select(again.Push)) + again.Finish());
    }

    [Fact]
    public void SentencePiece_byte_fallback_tokens_are_held_and_the_dummy_prefix_dropped()
    {
        TextTokenizer llama = SentencePieceBpeModelTests.Load(SentencePieceBpeModelTests.TokenizerJson(
            SentencePieceBpeModelTests.Llama2Normalizer, "null", SentencePieceBpeModelTests.Llama2Decoder));
        // <s> ▁ab ▁ b <0xE2> <0x82> <0xAC>  →  "ab b€" (the special token skipped, € from three byte tokens)
        int[] ids = [1, 8, 3, 5, 9, 10, 11];
        var stream = llama.CreateStream();
        Assert.Equal(["", "ab", " ", "b", "", "", "€"], ids.Select(stream.Push));
        Assert.Equal("ab b€", llama.Decode(ids));
    }

    [Fact]
    public void Finish_drops_or_replaces_a_character_cut_by_the_end_of_generation()
    {
        int[] ids = Encoding.UTF8.GetBytes("a你").Take(3).Select(b => _builtin.TokenToId(ByteLevelAlphabet.ToChar(b).ToString())!.Value).ToArray();
        var dropped = _builtin.CreateStream();
        Assert.Equal("a", string.Concat(ids.Select(dropped.Push)) + dropped.Finish(dropIncomplete: true));
        var replaced = _builtin.CreateStream();
        Assert.Equal(_builtin.Decode(ids), string.Concat(ids.Select(replaced.Push)) + replaced.Finish());
        Assert.Equal("a\uFFFD", _builtin.Decode(ids));
    }

    [Fact]
    public void Text_that_may_start_a_stop_string_is_held_until_decided()
    {
        var sent = new List<string>();
        var text = new GeneratedText(["<|im_end|>"], sent.Add);
        Assert.False(text.Append("Hello <|i"));
        Assert.Equal(["Hello "], sent);                 // "<|i" could be the stop string's start
        Assert.False(text.Append("nstead"));
        Assert.Equal(["Hello ", "<|instead"], sent);    // it was not
        Assert.False(text.Append(" ok<|im_e"));
        Assert.True(text.Append("nd|> never"));         // the stop string, across two pieces
        Assert.True(text.Append("more"));               // already stopped: nothing more is taken
        Assert.Equal("Hello <|instead ok", text.Complete());
        Assert.Equal("Hello <|instead ok", string.Concat(sent));
    }

    [Fact]
    public void A_stop_string_spanning_pieces_cuts_the_text_there()
    {
        var sent = new List<string>();
        var text = new GeneratedText(["\n###", "</s>"], sent.Add);
        Assert.False(text.Append("answer\n#"));
        Assert.True(text.Append("## Instruction"));
        Assert.Equal("answer", text.Complete());
        Assert.Equal("answer", string.Concat(sent));
    }
}
