using LoraRecipes.Numerics;

namespace LoraRecipes.Data;

/// <summary>Deterministic shuffles and splits: the same seed gives the same order on every machine.</summary>
public static class DatasetSplit
{
    /// <summary>A permutation of 0..n-1 from a seed (Fisher–Yates over SplitMix64).</summary>
    public static int[] Permutation(int n, ulong seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        ulong state = seed;
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)(SplitMix64.Next(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>Splits off round(fraction·n) items (at least 1 when fraction &gt; 0 and n &gt; 1) for validation.</summary>
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> Validation) Split<T>(IReadOnlyList<T> items, double fraction, ulong seed)
    {
        var (train, validation) = SplitIndices(items.Count, fraction, seed);
        if (validation.Length == 0) return (items, Array.Empty<T>());
        return (train.Select(i => items[i]).ToList(), validation.Select(i => items[i]).ToList());
    }

    /// <summary>
    /// <see cref="Split{T}"/> as indices, each part in ascending order: the split of n items without touching them
    /// (a view over cached examples takes these, see <see cref="ExampleSubset"/>).
    /// </summary>
    public static (int[] Train, int[] Validation) SplitIndices(int count, double fraction, ulong seed)
    {
        if (fraction <= 0 || count < 2) return (Enumerable.Range(0, count).ToArray(), []);
        int nVal = Math.Clamp((int)Math.Round(fraction * count), 1, count - 1);
        var order = Permutation(count, seed ^ 0x5EED_5EED_5EED_5EEDUL);
        return (order.Skip(nVal).Order().ToArray(), order.Take(nVal).Order().ToArray());
    }
}
