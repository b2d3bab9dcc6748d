using System.Collections;

namespace LoraRecipes.Data;

/// <summary>
/// Some examples of a list, by index, in the given order: the validation split, the records left after dropping
/// unusable ones. Nothing is copied; an example is fetched from the source (decoded, for a cached list) on access.
/// A subset of a subset points straight at the first source, so views never stack up.
/// </summary>
public sealed class ExampleSubset : IReadOnlyList<TokenizedExample>, IExampleLengths
{
    private readonly IReadOnlyList<TokenizedExample> _source;
    private readonly IExampleLengths _lengths;
    private readonly int[] _indices;

    private ExampleSubset(IReadOnlyList<TokenizedExample> source, int[] indices)
    {
        _source = source;
        _lengths = ExampleLengths.Of(source);
        _indices = indices;
    }

    /// <summary>The examples of <paramref name="source"/> at <paramref name="indices"/> (each in 0..Count-1).</summary>
    public static ExampleSubset Of(IReadOnlyList<TokenizedExample> source, int[] indices)
    {
        foreach (int i in indices)
            if ((uint)i >= (uint)source.Count) throw new ArgumentOutOfRangeException(nameof(indices), i, $"not an index of a list of {source.Count}.");
        return source is ExampleSubset subset
            ? new ExampleSubset(subset._source, Array.ConvertAll(indices, i => subset._indices[i]))
            : new ExampleSubset(source, indices);
    }

    /// <summary>The examples whose <paramref name="keep"/> holds, judged from their sizes only (see <see cref="IExampleLengths"/>).</summary>
    public static ExampleSubset Where(IReadOnlyList<TokenizedExample> source, Func<IExampleLengths, int, bool> keep)
    {
        var lengths = ExampleLengths.Of(source);
        return Of(source, Enumerable.Range(0, source.Count).Where(i => keep(lengths, i)).ToArray());
    }

    public int Count => _indices.Length;

    public TokenizedExample this[int index] => _source[_indices[index]];

    public int LengthOf(int index) => _lengths.LengthOf(_indices[index]);
    public int TrainedTokensOf(int index) => _lengths.TrainedTokensOf(_indices[index]);
    public int ScoredPositionsOf(int index) => _lengths.ScoredPositionsOf(_indices[index]);

    public IEnumerator<TokenizedExample> GetEnumerator()
    {
        foreach (int i in _indices) yield return _source[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
