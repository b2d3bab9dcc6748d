namespace LoraRecipes.Data;

/// <summary>
/// Per-example sizes that a list of examples can give without decoding them: batching (<see cref="LengthGrouping"/>),
/// packing (<see cref="SequencePacker"/>) and the dropping of unusable records read only these, so a cached list
/// (<see cref="CachedExamples"/>) answers from its index and never touches the token payload for them.
/// </summary>
public interface IExampleLengths
{
    /// <summary>Tokens of example <paramref name="index"/> (its <c>InputIds.Length</c>).</summary>
    int LengthOf(int index);

    /// <summary>Positions of example <paramref name="index"/> whose label is trained (<see cref="TokenizedExample.TrainedTokens"/>).</summary>
    int TrainedTokensOf(int index);

    /// <summary>
    /// Trained positions after the first: the ones the next-token loss scores (nothing precedes position 0). Also what
    /// the example keeps trained inside a packed row, which ignores each sample's first label.
    /// </summary>
    int ScoredPositionsOf(int index);
}

/// <summary>The sizes of any example list: its own <see cref="IExampleLengths"/> when it has one, else counted from the examples.</summary>
public static class ExampleLengths
{
    /// <summary>Sizes of <paramref name="examples"/>; for a plain in-memory list they are counted on each call.</summary>
    public static IExampleLengths Of(IReadOnlyList<TokenizedExample> examples) =>
        examples as IExampleLengths ?? new Counted(examples);

    /// <summary>Positions whose label is not <see cref="ExampleEncoder.IgnoreIndex"/>.</summary>
    public static int Trained(ReadOnlySpan<int> labels) => labels.Length - labels.Count(ExampleEncoder.IgnoreIndex);

    /// <summary>Trained positions after the first (see <see cref="IExampleLengths.ScoredPositionsOf"/>).</summary>
    public static int Scored(ReadOnlySpan<int> labels) => labels.Length <= 1 ? 0 : Trained(labels[1..]);

    private sealed class Counted(IReadOnlyList<TokenizedExample> examples) : IExampleLengths
    {
        public int LengthOf(int index) => examples[index].InputIds.Length;
        public int TrainedTokensOf(int index) => Trained(examples[index].Labels);
        public int ScoredPositionsOf(int index) => Scored(examples[index].Labels);
    }
}
