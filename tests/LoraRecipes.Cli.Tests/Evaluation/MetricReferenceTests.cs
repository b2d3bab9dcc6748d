using LoraRecipes.Evaluation;

namespace LoraRecipes.Cli.Tests.Evaluation;

/// <summary>
/// BLEU and ROUGE-L against values computed by sacrebleu's and rouge-score's own scoring code on a fixed corpus of
/// 35 (hypothesis, reference) pairs, including empty and zero-match ones.
/// </summary>
/// <remarks>
/// How the expected numbers were produced (Debian 12, python3 3.11; Debian serves neither python3-sacrebleu nor
/// python3-rouge-score, so the scoring functions were transcribed line for line into one script, ref_metrics.py):
/// sacrebleu from mjpost/sacrebleu sacrebleu/metrics/bleu.py (commit 071aeb44: BLEU.compute_bleu, smooth_method "exp",
/// the early return 0 when no n-gram matches, _preprocess_segment's rstrip, the 13a tokenizer of
/// tokenizers/tokenizer_13a.py + tokenizer_re.py); rouge-score from google-research/rouge (tokenize.py without a
/// stemmer, rouge_scorer._score_lcs / _lcs_table, scoring.fmeasure). The script first asserts the libraries' own
/// published test values — sacrebleu test/test_bleu.py: the README corpus scores 48.530827 and three empty hypotheses
/// 0.0; rouge-score rouge_scorer_test.py: ROUGE-L F of "testing one" against "testing one two" is 0.8 — then prints, for
/// the pairs below written to pairs.json, <c>python3 ref_metrics.py pairs.json</c>: per pair
/// <c>corpus_bleu([h], [[r]])</c> (0–100) and <c>_score_lcs(tokenize(r), tokenize(h)).fmeasure</c>, and the corpus BLEU
/// and mean ROUGE-L over all pairs. No CJK text here: rouge-score drops non-ASCII letters and sacrebleu's 13a keeps a
/// Chinese sentence as one token, where this code splits ideographs (documented in <see cref="GenerationMetrics"/>).
/// </remarks>
public sealed class MetricReferenceTests
{
    private static readonly (string Hypothesis, string Reference, double Bleu, double RougeL)[] Corpus =
    [
        ("The cat sat on the mat.", "The cat sat on the mat.", 100.00000000000004, 1.0),
        ("the cat is on the mat", "there is a cat on the mat", 29.05925408079185, 0.6153846153846153),
        ("a b c d", "e f g h", 0.0, 0.0),
        ("", "The reference is not empty.", 0.0, 0.0),
        ("Only the hypothesis has words.", "", 0.0, 0.0),
        ("", "", 0.0, 0.0),
        ("It is a guide to action which ensures that the military always obeys the commands of the party.", "It is a guide to action that ensures that the military will forever heed Party commands.", 39.67088290836578, 0.6470588235294118),
        ("It is to insure the troops forever hearing the activity guidebook that party direct.", "It is a guide to action that ensures that the military will forever heed Party commands.", 6.2915855898775845, 0.39999999999999997),
        ("High blood pressure is a condition in which the force of the blood against the artery walls is too high.", "Hypertension is when the force of blood against your artery walls is consistently too high.", 17.20971931437425, 0.6285714285714286),
        ("Take 500 mg twice a day, with food.", "Take 500mg two times daily with meals.", 5.522397783539471, 0.26666666666666666),
        ("The answer is 3.14, not 3,14.", "The answer is 3.14.", 36.55552228545123, 0.7692307692307693),
        ("Call 555-1234 before 9-5.", "Call 555-1234 between 9 and 5.", 36.88939732334405, 0.7692307692307692),
        ("positive", "positive", 0.0, 1.0),
        ("negative", "positive", 0.0, 0.0),
        ("Yes.", "yes", 0.0, 1.0),
        ("I don't know; maybe (probably) not!", "I do not know, maybe not.", 5.934202609760488, 0.6153846153846153),
        ("the the the the the the the", "the cat is on the mat", 7.809849842300637, 0.30769230769230765),
        ("Paris is the capital of France.", "The capital of France is Paris.", 29.071536848410968, 0.6666666666666666),
        ("Water boils at 100 degrees Celsius at sea level.", "At sea level, water boils at 100 °C.", 20.556680845025987, 0.47058823529411764),
        ("Drink plenty of fluids and rest.", "Rest and drink plenty of fluids.", 27.77619034011791, 0.6666666666666666),
        ("See a doctor if the fever lasts more than three days.", "If a fever lasts longer than 3 days, see a doctor.", 10.135943830402923, 0.45454545454545453),
        ("Use &amp; and &quot;quotes&quot; carefully.", "Use & and \"quotes\" carefully.", 100.00000000000004, 0.7272727272727273),
        ("e-mail me at someone@example.com", "email me at someone@example.com", 84.08964152537145, 0.7692307692307692),
        ("The quick brown fox jumps over the lazy dog", "A quick brown dog jumps over the lazy fox", 38.14165616365676, 0.6666666666666666),
        ("one two three four five six seven eight nine ten", "one two three four five six seven eight nine ten eleven twelve", 81.87307530779823, 0.9090909090909091),
        ("one", "one two three four five six seven eight nine ten", 0.0, 0.18181818181818182),
        ("Machine learning models need data.", "Deep learning models need lots of data.", 27.22230298303347, 0.6666666666666666),
        ("The patient should avoid salt, alcohol and smoking.", "Patients should avoid smoking, alcohol, and salt.", 14.113991930789776, 0.5333333333333333),
        ("  leading and trailing spaces  ", "leading and trailing spaces", 100.00000000000004, 1.0),
        ("Line one.\nLine two.", "Line one. Line two.", 100.00000000000004, 1.0),
        ("Résumé café naïve", "Resume cafe naive", 0.0, 0.0),
        ("$100 + 20% = $120", "$100 plus 20% is $120", 19.130147081392227, 0.7499999999999999),
        ("[tag] {brace} <angle> `tick` ~tilde^", "tag brace angle tick tilde", 3.9297193407553004, 1.0),
        ("x y z", "x y", 0.0, 0.8),
        ("Hello, world!", "Hello world", 18.99589214128981, 1.0),
    ];

    private const double CorpusBleu = 32.56058602337051;
    private const double MeanRougeL = 0.5794790363697927;

    public static TheoryData<int> Indices => new(Enumerable.Range(0, Corpus.Length));

    [Theory]
    [MemberData(nameof(Indices))]
    public void EachPairScoresAsTheReferences(int i)
    {
        var (h, r, bleu, rouge) = Corpus[i];
        Assert.Equal(bleu, GenerationMetrics.Bleu([h], [r]), 9);
        Assert.Equal(rouge, GenerationMetrics.RougeL([h], [r]), 12);
    }

    [Fact]
    public void TheCorpusScoresAsTheReferences()
    {
        Assert.Equal(CorpusBleu, GenerationMetrics.Bleu(Corpus.Select(c => c.Hypothesis).ToList(), Corpus.Select(c => c.Reference).ToList()), 9);
        Assert.Equal(MeanRougeL, GenerationMetrics.RougeL(Corpus.Select(c => c.Hypothesis).ToList(), Corpus.Select(c => c.Reference).ToList()), 12);
    }

    [Fact]
    public void SacrebleusPublishedExamples()
    {
        // sacrebleu test/test_bleu.py, test_corpus_bleu_cases with two reference streams: here one stream at a time is
        // not the same statistic, so the single-reference zero cases are checked: no match at any order is 0, not a
        // smoothed value (the "a b c d" / "e f g h" case scored about 8 before).
        Assert.Equal(0.0, GenerationMetrics.Bleu(["a b c d"], ["e f g h"]));
        Assert.Equal(0.0, GenerationMetrics.Bleu(["", "", ""], ["The dog bit the man.", "It was not unexpected.", "The man bit him first."]));
    }
}
