using LoraRecipes.Data;
using LoraRecipes.Events;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Training;

/// <summary>
/// The plan's data read, split and tokenized, ready for batching. Dispose it: with a token cache the examples are
/// memory-mapped files (<see cref="Owned"/>), unmapped on dispose.
/// </summary>
public sealed record TrainingData(IReadOnlyList<TokenizedExample> Train, IReadOnlyList<TokenizedExample> Validation, IReadOnlyList<string> Warnings) : IDisposable
{
    /// <summary>What <see cref="Train"/> and <see cref="Validation"/> are views of and that must be released: the mapped cache files.</summary>
    public IReadOnlyList<IDisposable> Owned { get; init; } = [];

    /// <summary>
    /// Reads train (and validation) files; splits off <c>validation_split</c> when no file is given. With a
    /// <paramref name="cache"/> (and the <paramref name="tokenizerFolder"/> that keys it), each file is tokenized once,
    /// streaming from the reader through the encoder into the cache file, and every run maps it: the split and the
    /// dropping of unusable records are index views (<see cref="ExampleSubset"/>), so no example is held in memory.
    /// Without a cache the examples are encoded into memory; the two give the same examples in the same order.
    /// </summary>
    public static TrainingData Load(TrainingPlan plan, TextTokenizer tokenizer, TokenCache? cache = null, string? tokenizerFolder = null)
    {
        var d = plan.Recipe.Data;
        string format = DataReader.FormatName(d.Format);
        var encoder = new ExampleEncoder(tokenizer, PromptFormatter.For(d.PromptTemplate, tokenizer), d.MaxLength, d.TrainOnInputs);
        // ":jinja1": prompt_template: model renders the chat template (issue 17), so caches of the older encoding are not reused.
        string settings = $"{format}|{d.PromptTemplate}{(d.PromptTemplate == PromptTemplate.Model ? ":jinja1" : "")}|{d.MaxLength}|{d.TrainOnInputs}";
        var owned = new List<IDisposable>();
        var warnings = new List<string>();
        // Every record encoded, in file order (dropped ones included, so the split below sees the same indices).
        IReadOnlyList<TokenizedExample> Encode(string path)
        {
            var examples = cache is null
                ? DataReader.Records(path, format).Select(encoder.Encode).ToList()
                : cache.GetOrAdd(TokenCache.Key(path, tokenizerFolder, settings), () => DataReader.Records(path, format).Select(encoder.Encode), warnings.Add);
            if (examples is IDisposable disposable) owned.Add(disposable);
            return examples;
        }
        try
        {
            var all = Encode(plan.TrainPath);
            IReadOnlyList<TokenizedExample> trainAll = all, validationAll = Array.Empty<TokenizedExample>();
            if (plan.ValidationPath is { } validationPath) validationAll = Encode(validationPath);
            else
            {
                var (trainIndices, validationIndices) = DatasetSplit.SplitIndices(all.Count, d.ValidationSplit, (ulong)plan.Recipe.Training.Seed);
                (trainAll, validationAll) = (ExampleSubset.Of(all, trainIndices), ExampleSubset.Of(all, validationIndices));
            }

            // Records left with no trained token (prompt longer than max_length) are dropped.
            var train = ExampleSubset.Where(trainAll, (sizes, i) => sizes.TrainedTokensOf(i) > 0);
            var validation = ExampleSubset.Where(validationAll, (sizes, i) => sizes.TrainedTokensOf(i) > 0);
            int droppedTrain = trainAll.Count - train.Count, droppedValidation = validationAll.Count - validation.Count;
            if (droppedTrain + droppedValidation > 0)
                warnings.Add($"{droppedTrain + droppedValidation} record(s) had no response token left within data.max_length = {d.MaxLength} and were skipped; raise max_length to keep them.");
            if (train.Count == 0)
                throw new TrainingException($"{plan.TrainPath}: no usable training example (every response was truncated away by max_length {d.MaxLength}).", FailureKind.InvalidInput);
            return new TrainingData(train, validation, warnings) { Owned = owned };
        }
        catch
        {
            foreach (var o in owned) o.Dispose();
            throw;
        }
    }

    /// <summary>Unmaps the cache files; the examples cannot be read afterwards.</summary>
    public void Dispose()
    {
        foreach (var o in Owned) o.Dispose();
    }
}
