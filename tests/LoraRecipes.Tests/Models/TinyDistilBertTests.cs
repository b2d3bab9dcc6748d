using LoraRecipes.Models;
using LoraRecipes.Tests.IO;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

public class TinyDistilBertTests
{
    /// <summary>Greedy longest-match-first WordPiece over lowercase words, enough to feed the model here.</summary>
    private static long[] Encode(IReadOnlyList<string> vocab, string text)
    {
        var ids = vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => (long)x.i);
        var result = new List<long> { ids["[CLS]"] };
        foreach (string word in text.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            for (int start = 0; start < word.Length;)
            {
                int end = word.Length;
                while (end > start && !ids.ContainsKey((start > 0 ? "##" : "") + word[start..end])) end--;
                if (end == start) { result.Add(ids["[UNK]"]); break; }
                result.Add(ids[(start > 0 ? "##" : "") + word[start..end]]);
                start = end;
            }
        }
        result.Add(ids["[SEP]"]);
        return result.ToArray();
    }

    [Fact]
    public void IsAnHfFolderGeneratedDeterministicallyThatLoadsAsAClassifier()
    {
        using var cacheA = new TempDirectory();
        using var cacheB = new TempDirectory();
        string a = BuiltinModels.Materialize("tiny-distilbert", cacheA.Path);
        string b = BuiltinModels.Materialize("tiny-distilbert", cacheB.Path);
        foreach (string file in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));

        var vocab = File.ReadAllLines(Path.Combine(a, "vocab.txt"));
        Assert.InRange(vocab.Length, 1000, BuiltinWordPiece.VocabSize);
        Assert.Equal(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], vocab[..5]);
        Assert.Equal(vocab.Length, vocab.Distinct().Count());
        foreach (string word in new[] { "great", "terrible", "boring", "wonderful", "movie", "##ing", "z", "##z" }) Assert.Contains(word, vocab);
        Assert.Contains("\"do_lower_case\": true", File.ReadAllText(Path.Combine(a, "tokenizer_config.json")));

        var (model, config) = HfFixtures.Load(a);
        using var _ = model;
        var classifier = Assert.IsType<DistilBertForSequenceClassification>(model);
        Assert.Equal(["negative", "positive"], classifier.Labels);
        Assert.Equal(vocab.Length, config.VocabSize);
        Assert.Equal(config.ParameterCount(), HfFixtures.Count(model, tiedHead: false));

        var ids = tensor(Encode(vocab, "A wonderful film I loved it")).unsqueeze(0);
        Assert.DoesNotContain(1L, ids.data<long>().ToArray());   // no [UNK]
        using var guard = no_grad();
        var logits = classifier.Classify(ids, ones_like(ids));
        Assert.Equal(new long[] { 1, 2 }, logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }
}
