using System.Diagnostics;
using System.Text.RegularExpressions;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Tokenization;

public class BuiltinTokenizerTests : IClassFixture<BuiltinTokenizerTests.Builtin>
{
    /// <summary>The builtin tokenizer written once for the class.</summary>
    public sealed class Builtin : IDisposable
    {
        private readonly TokenizerFolder _folder = new();

        public Builtin()
        {
            BuiltinTokenizer.WriteTo(_folder.Path);
            Tokenizer = TextTokenizer.Load(_folder.Path);
        }

        public string Path => _folder.Path;
        public TextTokenizer Tokenizer { get; }
        public void Dispose() => _folder.Dispose();
    }

    private readonly Builtin _builtin;
    private TextTokenizer Tokenizer => _builtin.Tokenizer;

    public BuiltinTokenizerTests(Builtin builtin) => _builtin = builtin;

    [Fact]
    public void Two_independent_trainings_write_byte_identical_files()
    {
        IReadOnlyDictionary<string, byte[]> first = BuiltinTokenizer.Render();
        IReadOnlyDictionary<string, byte[]> second = BuiltinTokenizer.Render();
        using var again = new TokenizerFolder();
        BuiltinTokenizer.WriteTo(again.Path);

        Assert.Equal(["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"], first.Keys);
        foreach ((string name, byte[] content) in first)
        {
            Assert.Equal(content, second[name]);
            Assert.Equal(content, File.ReadAllBytes(Path.Combine(_builtin.Path, name)));
            Assert.Equal(content, File.ReadAllBytes(Path.Combine(again.Path, name)));
        }
    }

    [Fact]
    public void Has_the_documented_vocabulary_and_special_tokens()
    {
        Assert.Equal(2048, Tokenizer.VocabSize);
        Assert.Equal(2040, Tokenizer.BosId);
        Assert.Equal(2041, Tokenizer.EosId);
        Assert.Equal(2042, Tokenizer.PadId);
        Assert.Equal("<|begin_of_text|>", Tokenizer.BosToken);
        Assert.Equal("<|end_of_text|>", Tokenizer.EosToken);
        Assert.Equal(2043, Tokenizer.TokenToId("<|im_start|>"));
        Assert.Equal(2047, Tokenizer.TokenToId("<|eot_id|>"));
        Assert.Equal(Enumerable.Range(2040, 8).ToHashSet(), Tokenizer.SpecialIds);
        Assert.True(Tokenizer.AddBosToken);
        Assert.Equal(2048, Tokenizer.ModelMaxLength);
        Assert.Contains("<|im_start|>", Tokenizer.ChatTemplate);
        Assert.Equal(Enumerable.Range(0, 2048), Enumerable.Range(0, 2048).Where(id => Tokenizer.IdToToken(id) is not null));
    }

    [Theory]
    [InlineData("Blood pressure is the force that moving blood exerts on the walls of the arteries.")]
    [InlineData("请介绍一下什么是高血压")]
    [InlineData("患者血压 150/95 mmHg，建议复查。Follow up in 2 weeks!")]
    [InlineData("emoji 😀👍🏽 and flags 🇨🇳, astral 𠀀 letter")]
    [InlineData("  leading and trailing spaces  ")]
    [InlineData("tabs\tand\r\nwindows\r\nlines\n\n\nand   runs   of  spaces\n")]
    [InlineData("It's what they'd've SAID, isn't it? I'LL see.")]
    [InlineData("1234567890 3.14159 -42 1e-5")]
    [InlineData("")]
    public void Round_trips_exactly(string text)
    {
        IReadOnlyList<int> ids = Tokenizer.Encode(text);

        Assert.All(ids, id => Assert.InRange(id, 0, Tokenizer.VocabSize - 1));
        Assert.Equal(text, Tokenizer.Decode(ids));
        Assert.Equal(text, Tokenizer.Decode(Tokenizer.Encode(text, addSpecialTokens: true)));
    }

    [Fact]
    public void Learned_merges_compress_both_languages()
    {
        const string chinese = "请介绍一下什么是高血压";
        const string english = "Blood pressure and the heart";
        Assert.True(Tokenizer.Encode(chinese).Count < System.Text.Encoding.UTF8.GetByteCount(chinese) / 2);
        Assert.True(Tokenizer.Encode(english).Count < english.Length / 3);
        Assert.Equal([Tokenizer.TokenToId("Ġblood")!.Value], Tokenizer.Encode(" blood"));
    }

    [Fact]
    public void Special_tokens_in_text_become_single_ids()
    {
        const string text = "<|im_start|>user\n请介绍一下什么是高血压<|im_end|>\n<|im_start|>assistant\n";
        IReadOnlyList<int> ids = Tokenizer.Encode(text);

        Assert.Equal(2043, ids[0]);
        Assert.Equal(2, ids.Count(id => id == 2043));
        Assert.Equal(1, ids.Count(id => id == 2044));
        Assert.Equal(text, Tokenizer.Decode(ids, skipSpecialTokens: false));
        Assert.Equal("user\n请介绍一下什么是高血压\nassistant\n", Tokenizer.Decode(ids));
    }

    [Fact]
    public void Add_special_tokens_prepends_bos_only()
    {
        IReadOnlyList<int> plain = Tokenizer.Encode("hello world");
        IReadOnlyList<int> withBos = Tokenizer.Encode("hello world", addSpecialTokens: true);

        Assert.Equal([2040, .. plain], withBos);
    }

    [Fact]
    public void Decoding_joins_bytes_of_a_character_split_across_tokens()
    {
        // U+9AD8 高 is E9 AB 98: spell it byte by byte with the single-byte tokens.
        int[] bytes = System.Text.Encoding.UTF8.GetBytes("高").Select(b => Tokenizer.TokenToId(ByteToken(b))!.Value).ToArray();

        Assert.Equal("高", Tokenizer.Decode(bytes));
        Assert.Equal("\uFFFD", Tokenizer.Decode(bytes[..2])); // a truncated character is replaced, as HF does
    }

    [Fact]
    public void The_split_regex_compiles_and_splits_like_llama3()
    {
        var split = new Regex(BuiltinTokenizer.SplitPattern);
        string[] pieces = split.Matches("I'm here  \n\n12345 高血压!!\n").Select(m => m.Value).ToArray();

        // "\s*[\r\n]+" comes before "\s+(?!\S)" in the alternation, so all the whitespace up to the newlines is one piece.
        Assert.Equal(["I", "'m", " here", "  \n\n", "123", "45", " 高血压", "!!\n"], pieces);
    }

    /// <summary>GPT-2's byte character, computed here independently of the code under test.</summary>
    private static string ByteToken(byte b)
    {
        bool printable = b is >= (byte)'!' and <= (byte)'~' or >= 0xA1 and <= 0xAC or >= 0xAE;
        if (printable) return ((char)b).ToString();
        int rank = Enumerable.Range(0, b).Count(x => !(x is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE));
        return ((char)(256 + rank)).ToString();
    }
}
