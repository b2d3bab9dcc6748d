using LoraRecipes.Evaluation;

namespace LoraRecipes.Cli.Tests.Evaluation;

/// <summary>Expected values are worked out by hand in the comments (clipped n-gram counts, LCS lengths).</summary>
public sealed class GenerationMetricsTests
{
    [Fact]
    public void ExactMatchNormalisesWhitespaceOnly()
    {
        Assert.Equal(2.0 / 3, GenerationMetrics.ExactMatch(["a b", " x \n y ", "q"], ["a b", "x y", "Q"]), 12);
    }

    [Fact]
    public void Tokenizer13aSplitsPunctuationButKeepsNumbersAndApostrophes()
    {
        Assert.Equal(["Hello", ",", "world", "!", "It's", "3.5", "-", "4", "."], GenerationMetrics.TokenizeBleu("Hello, world! It's 3.5-4."));
        Assert.Equal(["高", "血", "压", "很", "常", "见", "。"], GenerationMetrics.TokenizeBleu("高血压很常见。"));
    }

    [Fact]
    public void BleuOfOneSentenceFromClippedCounts()
    {
        // hyp "the cat sat on the mat" vs ref "the cat sat on a mat": p1 = 5/6 ("the" clipped to 1),
        // p2 = 3/5, p3 = 2/4, p4 = 1/3; equal lengths, so BP = 1.
        double expected = 100 * Math.Pow(5.0 / 6 * 3.0 / 5 * 2.0 / 4 * 1.0 / 3, 0.25);
        Assert.Equal(expected, GenerationMetrics.Bleu(["the cat sat on the mat"], ["the cat sat on a mat"]), 9);
    }

    [Fact]
    public void BleuAppliesTheBrevityPenalty()
    {
        // Every n-gram matches (p_n = 1) but c = 4 < r = 8: BP = exp(1 - 8/4).
        Assert.Equal(100 * Math.Exp(-1), GenerationMetrics.Bleu(["a b c d"], ["a b c d e f g h"]), 9);
    }

    [Fact]
    public void BleuSmoothsZeroMatchesAsSacrebleusExpMethod()
    {
        // hyp "a b c d", ref "a b x d e": p1 = 3/4, p2 = 1/3, p3 = 0/2 → 100/(2·2), p4 = 0/1 → 100/(4·1);
        // c = 4, r = 5: BP = exp(1 - 5/4).
        double expected = Math.Exp(-0.25) * Math.Pow(75.0 * (100.0 / 3) * 25 * 25, 0.25);
        Assert.Equal(expected, GenerationMetrics.Bleu(["a b c d"], ["a b x d e"]), 9);
    }

    [Fact]
    public void BleuIsCorpusLevelNotAMeanOfSentences()
    {
        // Counts add up over the corpus: p1 = (2+1)/(2+1), p2 = 1/1 + 0/0 → 1/1, p3, p4 have no n-grams → 0.
        Assert.Equal(0, GenerationMetrics.Bleu(["a b", "c"], ["a b", "c"]));
        // Two copies of the one-sentence case give the same statistics ratios, hence the same score.
        Assert.Equal(GenerationMetrics.Bleu(["the cat sat on the mat"], ["the cat sat on a mat"]),
            GenerationMetrics.Bleu(["the cat sat on the mat", "the cat sat on the mat"], ["the cat sat on a mat", "the cat sat on a mat"]), 9);
        Assert.Equal(0, GenerationMetrics.Bleu([""], ["a b c d"]));
    }

    [Fact]
    public void RougeLIsTheLcsFMeasureAveragedOverPairs()
    {
        // LCS("the cat sat on the mat", "the cat is on the mat") = 5 of 6 and 6: F = 5/6.
        Assert.Equal(5.0 / 6, GenerationMetrics.RougeLPair("the cat sat on the mat", "The cat is on the mat."), 12);
        // LCS("a b c", "a x c d e") = 2: P = 2/3, R = 2/5, F = 2PR/(P+R) = 1/2.
        Assert.Equal(0.5, GenerationMetrics.RougeLPair("a b c", "a x c d e"), 12);
        Assert.Equal((5.0 / 6 + 0.5) / 2, GenerationMetrics.RougeL(["the cat sat on the mat", "a b c"], ["the cat is on the mat", "a x c d e"]), 12);
        Assert.Equal(0, GenerationMetrics.RougeLPair("", "a"));
    }

    [Fact]
    public void RougeTokensAreLowercaseAlphanumericsAndSingleCjkCharacters()
    {
        Assert.Equal(["高", "血", "压", "ok", "140"], GenerationMetrics.TokenizeRouge("高血压, OK! 140"));
        Assert.Equal(3, GenerationMetrics.LongestCommonSubsequence(["a", "b", "c", "d"], ["a", "c", "d", "b"]));
    }

    [Fact]
    public void MismatchedListsAreAnError()
    {
        Assert.Throws<ArgumentException>(() => GenerationMetrics.Bleu(["a"], []));
    }
}
