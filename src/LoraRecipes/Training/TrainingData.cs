using LoraRecipes.Data;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Training;

/// <summary>The plan's data read, split and tokenized, ready for batching.</summary>
public sealed record TrainingData(IReadOnlyList<TokenizedExample> Train, IReadOnlyList<TokenizedExample> Validation, IReadOnlyList<string> Warnings)
{
    /// <summary>Reads train (and validation) files; splits off <c>validation_split</c> when no file is given.</summary>
    public static TrainingData Load(TrainingPlan plan, TextTokenizer tokenizer)
    {
        var d = plan.Recipe.Data;
        string format = YamlNames.ToYaml(d.Format, ["alpaca", "messages", "text", "classification"]);
        var encoder = new ExampleEncoder(tokenizer, PromptFormatter.For(d.PromptTemplate, tokenizer), d.MaxLength, d.TrainOnInputs);
        var records = DataReader.Read(plan.TrainPath, format);
        IReadOnlyList<DataRecord> trainRecords = records, validationRecords = Array.Empty<DataRecord>();
        if (plan.ValidationPath is { } validationPath) validationRecords = DataReader.Read(validationPath, format);
        else (trainRecords, validationRecords) = DatasetSplit.Split(records, d.ValidationSplit, (ulong)plan.Recipe.Training.Seed);

        var warnings = new List<string>();
        var (train, droppedTrain) = encoder.EncodeAll(trainRecords);
        var (validation, droppedValidation) = encoder.EncodeAll(validationRecords);
        if (droppedTrain + droppedValidation > 0)
            warnings.Add($"{droppedTrain + droppedValidation} record(s) had no response token left within data.max_length = {d.MaxLength} and were skipped; raise max_length to keep them.");
        if (train.Count == 0)
            throw new TrainingException($"{plan.TrainPath}: no usable training example (every response was truncated away by max_length {d.MaxLength}).", ExitCodes.InvalidInput);
        return new TrainingData(train, validation, warnings);
    }
}
