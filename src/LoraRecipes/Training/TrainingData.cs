using LoraRecipes.Data;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Training;

/// <summary>The plan's data read, split and tokenized, ready for batching.</summary>
public sealed record TrainingData(IReadOnlyList<TokenizedExample> Train, IReadOnlyList<TokenizedExample> Validation, IReadOnlyList<string> Warnings)
{
    /// <summary>
    /// Reads train (and validation) files; splits off <c>validation_split</c> when no file is given. With a
    /// <paramref name="cache"/> (and the <paramref name="tokenizerFolder"/> that keys it), each file is tokenized once:
    /// later runs read its examples back instead of reading and encoding the records.
    /// </summary>
    public static TrainingData Load(TrainingPlan plan, TextTokenizer tokenizer, TokenCache? cache = null, string? tokenizerFolder = null)
    {
        var d = plan.Recipe.Data;
        string format = DataReader.FormatName(d.Format);
        var encoder = new ExampleEncoder(tokenizer, PromptFormatter.For(d.PromptTemplate, tokenizer), d.MaxLength, d.TrainOnInputs);
        string settings = $"{format}|{d.PromptTemplate}|{d.MaxLength}|{d.TrainOnInputs}";
        // Every record encoded, in file order (dropped ones included, so the split below sees the same indices).
        IReadOnlyList<TokenizedExample> Encode(string path) => cache is null
            ? DataReader.Read(path, format).Select(encoder.Encode).ToList()
            : cache.GetOrAdd(TokenCache.Key(path, tokenizerFolder, settings), () => DataReader.Read(path, format).Select(encoder.Encode).ToList());
        var all = Encode(plan.TrainPath);
        IReadOnlyList<TokenizedExample> trainAll = all, validationAll = Array.Empty<TokenizedExample>();
        if (plan.ValidationPath is { } validationPath) validationAll = Encode(validationPath);
        else (trainAll, validationAll) = DatasetSplit.Split(all, d.ValidationSplit, (ulong)plan.Recipe.Training.Seed);

        var warnings = new List<string>();
        // Records left with no trained token (prompt longer than max_length) are dropped.
        var train = trainAll.Where(e => e.TrainedTokens > 0).ToList();
        var validation = validationAll.Where(e => e.TrainedTokens > 0).ToList();
        int droppedTrain = trainAll.Count - train.Count, droppedValidation = validationAll.Count - validation.Count;
        if (droppedTrain + droppedValidation > 0)
            warnings.Add($"{droppedTrain + droppedValidation} record(s) had no response token left within data.max_length = {d.MaxLength} and were skipped; raise max_length to keep them.");
        if (train.Count == 0)
            throw new TrainingException($"{plan.TrainPath}: no usable training example (every response was truncated away by max_length {d.MaxLength}).", ExitCodes.InvalidInput);
        return new TrainingData(train, validation, warnings);
    }
}
