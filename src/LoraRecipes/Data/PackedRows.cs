using System.Collections;

namespace LoraRecipes.Data;

/// <summary>
/// Packed rows (<see cref="SequencePacker"/>) kept as groups of example indices: a row is concatenated from its
/// samples when it is read, so packing a cached list holds no tokens, only the groups and each row's sizes.
/// </summary>
public sealed class PackedRows : IReadOnlyList<TokenizedExample>, IExampleLengths
{
    private readonly IReadOnlyList<TokenizedExample> _samples;
    private readonly int[][] _groups;
    private readonly int[] _lengths, _trained;

    /// <summary>Rows of <paramref name="samples"/>, row r holding the samples at <paramref name="groups"/>[r] in that order.</summary>
    public PackedRows(IReadOnlyList<TokenizedExample> samples, int[][] groups)
    {
        _samples = samples;
        _groups = groups;
        var sizes = ExampleLengths.Of(samples);
        _lengths = Array.ConvertAll(groups, g => g.Sum(sizes.LengthOf));
        // Every sample's first label is ignored in a row, so a row trains exactly its samples' scored positions.
        _trained = Array.ConvertAll(groups, g => g.Sum(sizes.ScoredPositionsOf));
    }

    /// <summary>The sample indices of each row.</summary>
    public IReadOnlyList<int[]> Groups => _groups;

    public int Count => _groups.Length;

    public TokenizedExample this[int index] => SequencePacker.Concatenate(Array.ConvertAll(_groups[index], i => _samples[i]));

    public int LengthOf(int index) => _lengths[index];
    public int TrainedTokensOf(int index) => _trained[index];
    public int ScoredPositionsOf(int index) => _trained[index];

    public IEnumerator<TokenizedExample> GetEnumerator()
    {
        for (int i = 0; i < _groups.Length; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
