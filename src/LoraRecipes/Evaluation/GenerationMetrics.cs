using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LoraRecipes.Evaluation;

/// <summary>
/// Reference-based metrics over generated text: exact match, corpus BLEU-4 and ROUGE-L F1.
/// </summary>
/// <remarks>
/// BLEU follows sacrebleu's default (<c>corpus_bleu</c>, tokenize 13a, smooth "exp", one reference,
/// 0–100 scale): clipped n-gram counts are summed over the corpus, p_n = matches/total, BP =
/// exp(1 − r/c) when c &lt; r, BLEU = 100 · BP · exp(¼ Σ log p_n). CJK ideographs are split into single
/// characters first, as sacrebleu's <c>zh</c> tokenizer does (13a alone would leave a Chinese sentence
/// as one token); for other text this is exactly 13a.
/// ROUGE-L follows Google's rouge_score: lowercase, non-alphanumerics become spaces, tokens split on
/// whitespace (CJK characters one token each); P = LCS/|hyp|, R = LCS/|ref|, F = 2PR/(P+R), averaged over
/// pairs (0–1). Exact match compares after trimming and collapsing runs of whitespace (0–1).
/// </remarks>
public static partial class GenerationMetrics
{
    /// <summary>The metric names <c>eval --metrics</c> accepts for generation.</summary>
    public static IReadOnlyList<string> Names { get; } = ["exact_match", "bleu", "rouge_l"];

    /// <summary>Fraction of hypotheses equal to their reference (whitespace-normalised).</summary>
    public static double ExactMatch(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        CheckPairs(hypotheses, references);
        if (hypotheses.Count == 0) return 0;
        int equal = hypotheses.Zip(references).Count(p => NormalizeSpace(p.First) == NormalizeSpace(p.Second));
        return (double)equal / hypotheses.Count;
    }

    /// <summary>Corpus BLEU-4 on sacrebleu's 0–100 scale (see the type's remarks).</summary>
    public static double Bleu(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        CheckPairs(hypotheses, references);
        const int order = 4;
        var correct = new long[order];
        var total = new long[order];
        long hypLength = 0, refLength = 0;
        foreach (var (hyp, reference) in hypotheses.Zip(references))
        {
            string[] h = TokenizeBleu(hyp), r = TokenizeBleu(reference);
            hypLength += h.Length;
            refLength += r.Length;
            for (int n = 1; n <= order; n++)
            {
                var refCounts = NGrams(r, n);
                foreach (var (gram, count) in NGrams(h, n))
                {
                    total[n - 1] += count;
                    correct[n - 1] += Math.Min(count, refCounts.GetValueOrDefault(gram));
                }
            }
        }
        return BleuFromStatistics(correct, total, hypLength, refLength);
    }

    /// <summary>sacrebleu's <c>compute_bleu</c> with smooth_method "exp" from the summed statistics.</summary>
    public static double BleuFromStatistics(IReadOnlyList<long> correct, IReadOnlyList<long> total, long hypLength, long refLength)
    {
        if (hypLength == 0) return 0;
        // sacrebleu's early stop (#141): no matching n-gram of any order is a score of 0, not a smoothed one.
        if (correct.All(c => c == 0)) return 0;
        int order = correct.Count;
        var precisions = new double[order];
        double smooth = 1;
        for (int n = 0; n < order; n++)
        {
            if (total[n] == 0) break;   // shorter than n tokens everywhere: p_n stays 0
            if (correct[n] == 0)
            {
                smooth *= 2;
                precisions[n] = 100.0 / (smooth * total[n]);
            }
            else
            {
                precisions[n] = 100.0 * correct[n] / total[n];
            }
        }
        double brevity = hypLength < refLength ? Math.Exp(1 - (double)refLength / hypLength) : 1.0;
        // sacrebleu's my_log(0) is -9999999999: a missing order zeroes the score.
        double logSum = precisions.Sum(p => p == 0 ? -9999999999.0 : Math.Log(p));
        return brevity * Math.Exp(logSum / order);
    }

    /// <summary>Mean ROUGE-L F1 over pairs (see the type's remarks).</summary>
    public static double RougeL(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        CheckPairs(hypotheses, references);
        if (hypotheses.Count == 0) return 0;
        return hypotheses.Zip(references).Average(p => RougeLPair(p.First, p.Second));
    }

    /// <summary>ROUGE-L F1 of one hypothesis against one reference.</summary>
    public static double RougeLPair(string hypothesis, string reference)
    {
        string[] h = TokenizeRouge(hypothesis), r = TokenizeRouge(reference);
        if (h.Length == 0 || r.Length == 0) return 0;
        int lcs = LongestCommonSubsequence(h, r);
        if (lcs == 0) return 0;
        double precision = (double)lcs / h.Length, recall = (double)lcs / r.Length;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>Length of the longest common subsequence (dynamic programming, two rows).</summary>
    public static int LongestCommonSubsequence(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var previous = new int[b.Count + 1];
        var current = new int[b.Count + 1];
        for (int i = 1; i <= a.Count; i++)
        {
            for (int j = 1; j <= b.Count; j++)
                current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : Math.Max(previous[j], current[j - 1]);
            (previous, current) = (current, previous);
        }
        return previous[b.Count];
    }

    /// <summary>sacrebleu's 13a tokenizer (with CJK ideographs split one per token).</summary>
    public static string[] TokenizeBleu(string line)
    {
        line = line.TrimEnd();   // sacrebleu's _preprocess_segment: sent.rstrip() before the tokenizer
        line = line.Replace("<skipped>", "", StringComparison.Ordinal).Replace("-\n", "", StringComparison.Ordinal).Replace('\n', ' ');
        if (line.Contains('&'))
            line = line.Replace("&quot;", "\"", StringComparison.Ordinal).Replace("&amp;", "&", StringComparison.Ordinal)
                .Replace("&lt;", "<", StringComparison.Ordinal).Replace("&gt;", ">", StringComparison.Ordinal);
        line = " " + SplitCjk(line) + " ";
        line = Punctuation().Replace(line, " $1 ");
        line = PeriodCommaAfterNonDigit().Replace(line, "$1 $2 ");
        line = PeriodCommaBeforeNonDigit().Replace(line, " $1 $2");
        line = DashAfterDigit().Replace(line, "$1 $2 ");
        return line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>rouge_score's tokenizer: lowercase, non-alphanumerics to spaces, split (CJK one per token).</summary>
    public static string[] TokenizeRouge(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in SplitCjk(text.ToLowerInvariant()))
            sb.Append(char.IsAsciiLetterOrDigit(c) || IsCjk(c) ? c : ' ');
        return sb.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    private static Dictionary<string, int> NGrams(string[] tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Length; i++)
        {
            string gram = string.Join('\u0001', tokens, i, n);
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
        return counts;
    }

    private static string SplitCjk(string text)
    {
        if (!text.Any(IsCjk)) return text;
        var sb = new StringBuilder(text.Length * 2);
        foreach (char c in text)
        {
            if (IsCjk(c)) sb.Append(' ').Append(c).Append(' ');
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>CJK Unified Ideographs (+ Extension A), CJK symbols and full-width punctuation.</summary>
    private static bool IsCjk(char c) => c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF' or >= '\u3000' and <= '\u303F' or >= '\uFF00' and <= '\uFFEF';

    private static string NormalizeSpace(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static void CheckPairs(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        if (hypotheses.Count != references.Count)
            throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "{0} hypotheses but {1} references.", hypotheses.Count, references.Count));
    }

    [GeneratedRegex(@"([\{-\~\[-\` -\&\(-\+\:-\@\/])")]
    private static partial Regex Punctuation();

    [GeneratedRegex(@"([^0-9])([\.,])")]
    private static partial Regex PeriodCommaAfterNonDigit();

    [GeneratedRegex(@"([\.,])([^0-9])")]
    private static partial Regex PeriodCommaBeforeNonDigit();

    [GeneratedRegex(@"([0-9])(-)")]
    private static partial Regex DashAfterDigit();
}
