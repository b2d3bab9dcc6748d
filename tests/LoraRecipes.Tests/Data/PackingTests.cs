using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Data;

/// <summary><c>packing: true</c> and length grouping against the plain padded path.</summary>
[Collection(LoraRecipes.Tests.Models.GlobalTorchStateCollection.Name)]
public class PackingTests
{
    /// <summary>Examples of the given lengths with random ids; the first third of each is an unscored prompt.</summary>
    internal static List<TokenizedExample> Examples(int[] lengths, int seed, int vocab = 64)
    {
        var rng = new Random(seed);
        return lengths.Select((n, i) =>
        {
            var ids = Enumerable.Range(0, n).Select(_ => rng.Next(1, vocab)).ToArray();
            var labels = ids.Select((id, j) => j < n / 3 ? ExampleEncoder.IgnoreIndex : id).ToArray();
            return new TokenizedExample(ids, labels, i);
        }).ToList();
    }

    /// <summary>Per-position cross-entropy (B, T−1), zero where ignored, in fp32.</summary>
    private static Tensor TokenLosses(Tensor logits, Tensor labels)
    {
        long v = logits.shape[2];
        var shifted = logits.narrow(1, 0, logits.shape[1] - 1).reshape(-1, v).to(ScalarType.Float32);
        var targets = labels.narrow(1, 1, labels.shape[1] - 1).reshape(-1);
        return nn.functional.cross_entropy(shifted, targets, ignore_index: ExampleEncoder.IgnoreIndex, reduction: nn.Reduction.None)
            .view(labels.shape[0], -1);
    }

    [Fact]
    public void PackedRowsGiveEverySampleTheLossAndGradientItHasAlone()
    {
        using var model = TinyModels.Create();
        manual_seed(4);
        var wrapped = LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["q_proj", "v_proj"]));
        using (no_grad()) foreach (var l in wrapped.Values) l.B.copy_(randn_like(l.B) * 0.1);
        model.train();
        var examples = Examples(new[] { 11, 6, 17, 9, 4, 13 }, seed: 1);

        // Plain path: each sample alone (no padding at all).
        var alone = new List<double>();
        foreach (var e in examples)
        {
            using var b = Batch.Collate([e], padId: 0);
            var loss = CausalLoss.Sum(b.Logits(model), b.Labels);
            loss.backward();
            alone.Add(loss.item<float>());
        }
        var gradsAlone = wrapped.Values.Select(l => l.A.grad!.clone()).ToList();
        foreach (var p in model.parameters()) p.grad = null;

        // Packed: two rows (padded to the longer), per-segment sums read back out of the per-token losses.
        var rows = SequencePacker.Pack(examples, maxLength: 32);
        Assert.Equal(examples.Count, rows.Sum(r => r.SegmentLengths!.Length));
        using var batch = Batch.Collate(rows, padId: 0);
        var logits = batch.Logits(model);
        Assert.False(logits.isnan().any().item<bool>());   // padding never yields an all-masked softmax row
        var perToken = TokenLosses(logits, batch.Labels);
        perToken.sum().backward();
        var byRecord = new Dictionary<int, double>();
        var packedRows = rows.ToList();
        for (int r = 0; r < packedRows.Count; r++)
        {
            int at = 0;
            foreach (int length in packedRows[r].SegmentLengths!)
            {
                // Positions at..at+length−1 predict labels at+1..at+length−1 of the same sample (the next sample's first label is ignored).
                int record = examples.First(e => e.InputIds.SequenceEqual(packedRows[r].InputIds.Skip(at).Take(length))).RecordNumber;
                byRecord[record] = perToken[r].narrow(0, at, Math.Min(length, (int)perToken.shape[1] - at)).sum().item<float>();
                at += length;
            }
        }
        for (int i = 0; i < examples.Count; i++)
            Assert.True(Math.Abs(byRecord[i] - alone[i]) <= 1e-4 * Math.Abs(alone[i]) + 1e-5, $"sample {i}: packed {byRecord[i]}, alone {alone[i]}");
        var gradsPacked = wrapped.Values.Select(l => l.A.grad!).ToList();
        for (int i = 0; i < gradsAlone.Count; i++)
            Assert.True(gradsPacked[i].allclose(gradsAlone[i], rtol: 1e-4, atol: 1e-6), $"lora_A gradient {i} differs");
    }

    [Fact]
    public void PackerKeepsEveryExampleOnceWithinMaxLengthAndIgnoresEachFirstLabel()
    {
        var examples = Examples(Enumerable.Range(0, 40).Select(i => 3 + i * 7 % 29).ToArray(), seed: 2);
        var rows = SequencePacker.Pack(examples, maxLength: 48);
        Assert.All(rows, r => Assert.True(r.InputIds.Length <= 48));
        Assert.Equal(examples.Sum(e => e.InputIds.Length), rows.Sum(r => r.InputIds.Length));
        Assert.True(rows.Count <= (int)Math.Ceiling(examples.Sum(e => e.InputIds.Length) / 48.0) + 1, $"{rows.Count} rows: packing is loose");
        foreach (var r in rows)
        {
            Assert.Equal(r.InputIds.Length, r.SegmentLengths!.Sum());
            int at = 0;
            foreach (int n in r.SegmentLengths!) { Assert.Equal(ExampleEncoder.IgnoreIndex, r.Labels[at]); at += n; }
        }
        Assert.Equal(rows.Select(r => string.Join(",", r.InputIds)), SequencePacker.Pack(examples, 48).Select(r => string.Join(",", r.InputIds)));
    }

    [Fact]
    public void PackedBatchHasPositionsRestartingPerSampleAndABlockDiagonalCausalMask()
    {
        var row = SequencePacker.Concatenate(Examples(new[] { 3, 2 }, seed: 5));
        using var batch = Batch.Collate([row, SequencePacker.Concatenate(Examples(new[] { 4 }, seed: 6))], padId: 0);
        Assert.Equal(new long[] { 0, 1, 2, 0, 1, 0, 1, 2, 3, 0 }, batch.PositionIds!.data<long>().ToArray());
        var mask = batch.AttentionMask![0, 0];   // (T, T) of the first row
        bool M(int i, int j) => mask[i, j].item<bool>();
        Assert.True(M(2, 0) && M(2, 2) && !M(1, 2));   // causal inside the first sample
        Assert.True(!M(3, 2) && M(4, 3));              // the second sample sees none of the first
        Assert.True(batch.AttentionMask[1, 0][4, 4].item<bool>() && !batch.AttentionMask[1, 0][4, 3].item<bool>());   // padding: its own block
    }

    [Fact]
    public void RotaryAtExplicitPositionsEqualsTheOffsetForm()
    {
        using var rope = new RotaryEmbedding(8, 32, 10000);
        var x = randn(2, 3, 5, 8);
        var positions = arange(4, 9, dtype: ScalarType.Int64).expand(2, 5);
        Assert.True(rope.Apply(x, positions).allclose(rope.Apply(x, 4), rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void LengthGroupingCoversEveryExampleOnceAndBatchesSimilarLengths()
    {
        var examples = Examples(Enumerable.Range(0, 200).Select(i => 2 + i * 37 % 100).ToArray(), seed: 3);
        var batches = LengthGrouping.Batches(examples, batchSize: 8, seed: 9);
        Assert.Equal(Enumerable.Range(0, 200), batches.SelectMany(b => b).Order());
        Assert.Equal(batches.Select(b => string.Join(",", b)), LengthGrouping.Batches(examples, 8, 9).Select(b => string.Join(",", b)));
        int Padding(IEnumerable<int[]> bs) => bs.Sum(b => b.Length * b.Max(i => examples[i].InputIds.Length) - b.Sum(i => examples[i].InputIds.Length));
        var random = DatasetSplit.Permutation(200, 9).Chunk(8);
        Assert.True(Padding(batches) * 4 < Padding(random), $"grouped pads {Padding(batches)}, random {Padding(random)}");
    }
}
