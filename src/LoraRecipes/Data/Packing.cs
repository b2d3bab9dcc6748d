namespace LoraRecipes.Data;

/// <summary>
/// <c>packing: true</c>: lays several short examples end to end in one row of at most <c>max_length</c> tokens, so
/// a batch computes no padding. Each sample keeps its own positions (restarting at 0) and attends only to itself
/// (a block-diagonal causal mask, built by <see cref="Batch.Collate"/>), so its loss is the loss it has alone.
/// </summary>
public static class SequencePacker
{
    /// <summary>
    /// The packed rows, each built when it is read (see <see cref="PackedRows"/>); the same rows, in the same order,
    /// as <see cref="Pack"/>.
    /// </summary>
    public static PackedRows PackLazily(IReadOnlyList<TokenizedExample> examples, int maxLength) =>
        new(examples, Groups(ExampleLengths.Of(examples), examples.Count, maxLength));

    /// <summary>Every packed row, built now (see <see cref="Groups"/> for the layout).</summary>
    public static IReadOnlyList<TokenizedExample> Pack(IReadOnlyList<TokenizedExample> examples, int maxLength) =>
        PackLazily(examples, maxLength).ToList();

    /// <summary>
    /// Which examples go in which row, from their lengths alone. Best-fit decreasing: longest examples first, each into
    /// the fullest row that still has room. Deterministic; an example is never split. The first label of every sample
    /// is ignored in its row, as it is unpacked (nothing precedes it).
    /// </summary>
    public static int[][] Groups(IExampleLengths lengths, int count, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        var order = Enumerable.Range(0, count).OrderByDescending(lengths.LengthOf).ThenBy(i => i).ToList();
        var rows = new List<List<int>>();
        var room = new SortedSet<(int Free, int Row)>();   // rows that still have space, by free tokens
        foreach (int i in order)
        {
            int length = Math.Min(lengths.LengthOf(i), maxLength);
            var fits = room.GetViewBetween((length, -1), (maxLength, int.MaxValue));
            int row;
            if (fits.Count > 0)
            {
                var best = fits.Min;
                room.Remove(best);
                row = best.Row;
                if (best.Free - length > 0) room.Add((best.Free - length, row));
            }
            else
            {
                row = rows.Count;
                rows.Add(new List<int>());
                if (maxLength - length > 0) room.Add((maxLength - length, row));
            }
            rows[row].Add(i);
        }
        return rows.Select(r => r.ToArray()).ToArray();
    }

    /// <summary>One row from its samples: ids and labels end to end; segment lengths recorded.</summary>
    public static TokenizedExample Concatenate(IReadOnlyList<TokenizedExample> samples)
    {
        int total = samples.Sum(s => s.InputIds.Length);
        var ids = new int[total];
        var labels = new int[total];
        var lengths = new int[samples.Count];
        int at = 0;
        for (int s = 0; s < samples.Count; s++)
        {
            var e = samples[s];
            e.InputIds.CopyTo(ids, at);
            e.Labels.CopyTo(labels, at);
            labels[at] = ExampleEncoder.IgnoreIndex;   // never predicted from the previous sample's last token
            lengths[s] = e.InputIds.Length;
            at += e.InputIds.Length;
        }
        return new TokenizedExample(ids, labels, samples[0].RecordNumber) { SegmentLengths = lengths };
    }
}

/// <summary>
/// Length-grouped batching (HF's <c>group_by_length</c>): shuffle, then within windows of 50 batches sort by
/// length so each batch holds similar lengths and pads little; the batches themselves are shuffled again.
/// </summary>
public static class LengthGrouping
{
    /// <summary>Batches of example indices for one epoch; deterministic in <paramref name="seed"/>.</summary>
    /// <remarks>Reads only the lengths (<see cref="IExampleLengths"/>): a cached list is not decoded to be batched.</remarks>
    public static IReadOnlyList<int[]> Batches(IReadOnlyList<TokenizedExample> examples, int batchSize, ulong seed, int window = 50)
    {
        var lengths = ExampleLengths.Of(examples);
        var order = DatasetSplit.Permutation(examples.Count, seed);
        var batches = new List<int[]>();
        foreach (var chunk in order.Chunk(batchSize * window))
        {
            var sorted = chunk.OrderByDescending(lengths.LengthOf).ThenBy(i => i).ToArray();
            batches.AddRange(sorted.Chunk(batchSize));
        }
        var shuffle = DatasetSplit.Permutation(batches.Count, seed ^ 0x9E3779B97F4A7C15UL);
        return shuffle.Select(i => batches[i]).ToList();
    }
}
