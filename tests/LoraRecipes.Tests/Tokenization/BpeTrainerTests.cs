using System.Text.RegularExpressions;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Tokenization;

public class BpeTrainerTests
{
    private static readonly Regex Words = new(@" ?\p{L}+|\s+");

    [Fact]
    public void Learns_the_merges_derived_by_hand()
    {
        // Pieces "aaab" and " aaab" ("Ġaaab"). Pair counts, overlaps included: (a,a)=4, (a,b)=2, (Ġ,a)=1.
        // 1. a+a      -> [aa a b], [Ġ aa a b]: (aa,a)=2, (a,b)=2, (Ġ,aa)=1
        // 2. tie at 2 -> smallest left token: "a" < "aa", so a+b -> [aa ab], [Ġ aa ab]: (aa,ab)=2
        // 3. aa+ab    -> [aaab], [Ġ aaab]: (Ġ,aaab)=1, below the minimum frequency of 2.
        BpeVocabulary bpe = BpeTrainer.Train(["aaab aaab"], Words, vocabSize: 1000);

        Assert.Equal([("a", "a"), ("a", "b"), ("aa", "ab")], bpe.Merges);
        Assert.Equal(["aa", "ab", "aaab"], bpe.Tokens.Skip(256));
    }

    [Fact]
    public void Ties_break_lexicographically_on_the_byte_level_strings()
    {
        // Pieces "ab" and " cd" ("Ġcd"), every pair once. Ordinal order of left tokens: "a" < "c" < "Ġ" (U+0120).
        BpeVocabulary bpe = BpeTrainer.Train(["ab cd"], Words, vocabSize: 1000, minFrequency: 1);

        Assert.Equal([("a", "b"), ("c", "d"), ("Ġ", "cd")], bpe.Merges);
    }

    [Fact]
    public void Stops_at_the_vocabulary_size()
    {
        BpeVocabulary bpe = BpeTrainer.Train(["aaab aaab"], Words, vocabSize: 257);

        Assert.Equal([("a", "a")], bpe.Merges);
        Assert.Equal(257, bpe.Tokens.Count);
    }

    [Fact]
    public void Starts_from_the_256_bytes_in_gpt2_order()
    {
        BpeVocabulary bpe = BpeTrainer.Train([""], Words, vocabSize: 300);

        Assert.Equal(256, bpe.Tokens.Count);
        Assert.Equal("!", bpe.Tokens[0]);       // printable bytes first, from 0x21
        Assert.Equal("~", bpe.Tokens[93]);
        Assert.Equal("Ā", bpe.Tokens[188]);     // then byte 0x00 as U+0100
        Assert.Equal("Ġ", bpe.Tokens[188 + 32]); // byte 0x20 (space) as U+0120
        Assert.Equal(256, bpe.Tokens.Distinct().Count());
    }
}
