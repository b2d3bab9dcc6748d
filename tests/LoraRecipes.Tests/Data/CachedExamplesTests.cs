using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Data;

/// <summary>
/// Token cache v2: what comes back from the mapped file is what the encoder produced; a file that is torn, damaged or of
/// another version is never trusted (re-encoded instead); dispose unmaps it; views and lazy packing equal their eager forms.
/// </summary>
public sealed class CachedExamplesTests : IDisposable
{
    private readonly TrainingFixture _fixture = new(records: 30);
    private readonly TokenCache _cache;

    public CachedExamplesTests() => _cache = new TokenCache(Path.Combine(_fixture.Directory, "cache"));

    public void Dispose() => _fixture.Dispose();

    private static string Flat(IEnumerable<TokenizedExample> examples) =>
        string.Join(";", examples.Select(e => $"{e.RecordNumber}:{string.Join(",", e.InputIds)}/{string.Join(",", e.Labels)}|{string.Join(",", e.SegmentLengths ?? [])}"));

    /// <summary>The fixture's records through the builtin tokenizer, the way <c>TrainingData.Load</c> encodes them.</summary>
    private List<TokenizedExample> Encoded(int maxLength = 160)
    {
        var tokenizer = TextTokenizer.Load(BuiltinModels.Materialize("tiny-llama"));
        var encoder = new ExampleEncoder(tokenizer, PromptFormatter.For(LoraRecipes.Recipes.PromptTemplate.Alpaca, tokenizer), maxLength, trainOnInputs: false);
        return DataReader.Read(Path.Combine(_fixture.Directory, "data.jsonl"), "alpaca").Select(encoder.Encode).ToList();
    }

    /// <summary>Writes <paramref name="examples"/> under <paramref name="key"/> and returns the mapped list (asserting it is one).</summary>
    private CachedExamples Cached(string key, IReadOnlyList<TokenizedExample> examples) =>
        Assert.IsType<CachedExamples>(_cache.GetOrAdd(key, () => examples));

    [Fact]
    public void RoundTripGivesTheEncodersIdsLabelsRecordNumbersAndSizes()
    {
        var encoded = Encoded(maxLength: 115);   // the English records lose every trained token
        using (var written = Cached("k", encoded)) Assert.Equal(Flat(encoded), Flat(written));
        using var read = Assert.IsType<CachedExamples>(_cache.GetOrAdd("k", () => throw new InvalidOperationException("a hit must not encode")));
        Assert.Equal(encoded.Count, read.Count);
        Assert.Equal(Flat(encoded), Flat(read));
        Assert.Equal(Flat(encoded), Flat(Enumerable.Range(0, read.Count).Select(i => read[i])));
        for (int i = 0; i < encoded.Count; i++)
        {
            Assert.Equal(encoded[i].InputIds.Length, read.LengthOf(i));
            Assert.Equal(encoded[i].TrainedTokens, read.TrainedTokensOf(i));
            Assert.Equal(encoded[i].Labels.Skip(1).Count(l => l != ExampleEncoder.IgnoreIndex), read.ScoredPositionsOf(i));
            Assert.Equal(encoded[i].RecordNumber, read.RecordNumberOf(i));
        }
        Assert.Contains(encoded, e => e.TrainedTokens == 0);
        Assert.Contains(encoded, e => e.TrainedTokens > 0);
    }

    public static TheoryData<string> Damages() => ["empty", "header only", "cut by one byte", "cut in half", "one byte more", "torn: header never written",
        "wrong magic", "version 1 header", "v1 file", "count changed", "index offset changed", "index entry changed", "trailer changed", "random bytes"];

    [Theory]
    [MemberData(nameof(Damages))]
    public void ADamagedTornOrOldFileIsReEncodedNeverTrusted(string damage)
    {
        var examples = PackingTests.Examples([5, 9, 3, 12, 7], seed: 1);
        string path = _cache.PathOf("k");
        Cached("k", examples).Dispose();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, Damaged(bytes, damage, examples));

        int encodes = 0;
        using var again = _cache.GetOrAdd("k", () => { encodes++; return examples; }) as CachedExamples;
        Assert.Equal(1, encodes);
        Assert.NotNull(again);
        Assert.Equal(Flat(examples), Flat(again));
        Assert.Equal(bytes, File.ReadAllBytes(path));   // re-written whole
    }

    private static byte[] Damaged(byte[] bytes, string damage, IReadOnlyList<TokenizedExample> examples)
    {
        var b = (byte[])bytes.Clone();
        long indexOffset = BitConverter.ToInt64(b, 16);
        switch (damage)
        {
            case "empty": return [];
            case "header only": return b[..24];
            case "cut by one byte": return b[..^1];
            case "cut in half": return b[..(b.Length / 2)];
            case "one byte more": return [.. b, 0];
            case "torn: header never written": Array.Clear(b, 0, 24); return b;
            case "wrong magic": b[0] ^= 0x20; return b;
            case "version 1 header": b[4] = 1; return b;
            case "count changed": b[8]++; return b;
            case "index offset changed": b[16] += 8; return b;
            case "index entry changed": b[indexOffset + 12]++; return b;   // the first example's length
            case "trailer changed": b[^1] ^= 1; return b;
            case "random bytes": new Random(3).NextBytes(b); return b;
            case "v1 file":
                using (var stream = new MemoryStream())
                using (var w = new BinaryWriter(stream))
                {
                    w.Write(0x4B54524Cu);
                    w.Write(1);
                    w.Write(examples.Count);
                    foreach (var e in examples)
                    {
                        w.Write(e.RecordNumber);
                        w.Write(e.InputIds.Length);
                        foreach (int id in e.InputIds) w.Write(id);
                        foreach (int label in e.Labels) w.Write(label);
                    }
                    w.Flush();
                    return stream.ToArray();
                }
            default: throw new ArgumentException(damage);
        }
    }

    [Fact]
    public void ChangedTokensAreReportedOnAccessNeverReturned()
    {
        var examples = PackingTests.Examples([5, 9, 3], seed: 2);
        string path = _cache.PathOf("k");
        Cached("k", examples).Dispose();
        var bytes = File.ReadAllBytes(path);
        bytes[24 + 8 * 5 + 4]++;   // the second example's second id: the index and the sizes still agree
        File.WriteAllBytes(path, bytes);
        using var cached = Assert.IsType<CachedExamples>(CachedExamples.TryOpen(path));
        Assert.Equal(Flat(examples.Take(1)), Flat([cached[0]]));
        var ex = Assert.Throws<DataFormatException>(() => cached[1]);
        Assert.Contains(path, ex.Message);
        Assert.Equal(examples[1].RecordNumber, ex.RecordNumber);   // the user's record, not only the cache slot
        Assert.Contains("Delete that file", ex.Message);
        Assert.Equal(Flat(examples.Skip(2)), Flat([cached[2]]));
    }

    [Fact]
    public void AnUnwritableCacheFallsBackToMemoryAndSaysSo()
    {
        var examples = PackingTests.Examples([5, 9, 3], seed: 7);
        // A cache folder below a regular file cannot be created (root included, unlike permission bits).
        string blocker = _cache.Directory + "-blocker";
        File.WriteAllText(blocker, "not a folder");
        var cache = new TokenCache(Path.Combine(blocker, "tokens"));
        var warnings = new List<string>();
        var loaded = cache.GetOrAdd("k", () => examples, warnings.Add);
        Assert.IsNotType<CachedExamples>(loaded);
        Assert.Equal(Flat(examples), Flat(loaded));
        string warning = Assert.Single(warnings);
        Assert.Contains("could not be written", warning);
        Assert.Contains("LORA_CACHE", warning);
    }

    [Fact]
    public void AnEncodeThatFailsHalfwayLeavesNoCacheFileAndKeepsItsError()
    {
        var examples = PackingTests.Examples([5, 9, 3], seed: 4);
        IEnumerable<TokenizedExample> FailingAfterTwo()
        {
            yield return examples[0];
            yield return examples[1];
            throw new DataFormatException("data.jsonl", 3, 3, "missing \"output\".");
        }
        var ex = Assert.Throws<DataFormatException>(() => _cache.GetOrAdd("k", FailingAfterTwo));
        Assert.Contains("record 3: missing \"output\".", ex.Message);
        Assert.Empty(Directory.GetFiles(_cache.Directory));   // neither the cache file nor a temp file
        using var later = Assert.IsType<CachedExamples>(_cache.GetOrAdd("k", () => examples));
        Assert.Equal(Flat(examples), Flat(later));
    }

    [Fact]
    public void DisposeUnmapsTheFileSoItCanBeDeletedOrReplaced()
    {
        var examples = PackingTests.Examples([5, 9, 3], seed: 5);
        string path = _cache.PathOf("k");
        var cached = Cached("k", examples);
        Assert.Equal(Flat(examples), Flat(cached));
        if (OperatingSystem.IsLinux()) Assert.Contains(path, File.ReadAllText("/proc/self/maps"));
        cached.Dispose();
        cached.Dispose();   // idempotent
        if (OperatingSystem.IsLinux()) Assert.DoesNotContain(path, File.ReadAllText("/proc/self/maps"));
        Assert.Throws<ObjectDisposedException>(() => cached[0]);
        File.WriteAllBytes(path, [1, 2, 3]);    // overwritten in place: only possible on every OS once unmapped
        File.Delete(path);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void SubsetViewsPickByIndexAndComposeWithoutDecoding()
    {
        var examples = PackingTests.Examples(Enumerable.Range(0, 20).Select(i => 2 + i * 7 % 13).ToArray(), seed: 6);
        using var cached = Cached("k", examples);
        var view = ExampleSubset.Of(cached, [19, 3, 3, 0, 11]);
        Assert.Equal(Flat(new[] { 19, 3, 3, 0, 11 }.Select(i => examples[i])), Flat(view));
        var nested = ExampleSubset.Of(view, [4, 0]);
        Assert.Equal(Flat(new[] { examples[11], examples[19] }), Flat(nested));
        Assert.Equal(new[] { examples[11].InputIds.Length, examples[19].InputIds.Length }, new[] { nested.LengthOf(0), nested.LengthOf(1) });
        Assert.Throws<ArgumentOutOfRangeException>(() => ExampleSubset.Of(view, [5]));

        var trainedOnly = ExampleSubset.Where(cached, (sizes, i) => sizes.LengthOf(i) > 6);
        Assert.Equal(Flat(examples.Where(e => e.InputIds.Length > 6)), Flat(trainedOnly));
        var (train, validation) = DatasetSplit.Split(examples, 0.25, 42);
        var (trainIx, validationIx) = DatasetSplit.SplitIndices(examples.Count, 0.25, 42);
        Assert.Equal(Flat(train), Flat(ExampleSubset.Of(cached, trainIx)));
        Assert.Equal(Flat(validation), Flat(ExampleSubset.Of(cached, validationIx)));
    }

    [Theory]
    [InlineData(48)]
    [InlineData(160)]
    public void LazyPackingOfACachedListEqualsPackingInMemory(int maxLength)
    {
        var encoded = Encoded();
        var examples = PackingTests.Examples(Enumerable.Range(0, 40).Select(i => 3 + i * 7 % 29).ToArray(), seed: 2).Concat(encoded).ToList();
        using var cached = Cached("k", examples);
        var eager = SequencePacker.Pack(examples, maxLength);
        var lazy = SequencePacker.PackLazily(ExampleSubset.Of(cached, Enumerable.Range(0, cached.Count).ToArray()), maxLength);
        Assert.Equal(Flat(eager), Flat(lazy));
        Assert.Equal(eager.Select(r => r.InputIds.Length), Enumerable.Range(0, lazy.Count).Select(lazy.LengthOf));
        Assert.Equal(eager.Select(r => r.TrainedTokens), Enumerable.Range(0, lazy.Count).Select(lazy.TrainedTokensOf));
        // Batching reads the sizes only, and gives the same batches as over the materialised rows.
        Assert.Equal(LengthGrouping.Batches(eager, 4, 9).Select(b => string.Join(",", b)), LengthGrouping.Batches(lazy, 4, 9).Select(b => string.Join(",", b)));
    }

    [Fact]
    public void LengthGroupingOfACachedListEqualsGroupingInMemory()
    {
        var examples = PackingTests.Examples(Enumerable.Range(0, 200).Select(i => 2 + i * 37 % 100).ToArray(), seed: 3);
        using var cached = Cached("k", examples);
        Assert.Equal(LengthGrouping.Batches(examples, 8, 9).Select(b => string.Join(",", b)), LengthGrouping.Batches(cached, 8, 9).Select(b => string.Join(",", b)));
    }
}
