using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Evaluation;

/// <summary>
/// Scores a data file with a base model (and optionally an adapter): <c>dotnet lora eval</c>.
/// Alpaca JSON/JSONL is formatted with a prompt template and scored on response tokens; any other
/// file is plain text, one sample per line, encoded as the tokenizer does by default and scored on
/// every token after the first.
/// </summary>
public static class FileEvaluator
{
    public static LossResult Evaluate(string? baseModel, string? adapterFolder, string dataFile, string? template, int batchSize = 8)
    {
        string spec = baseModel
            ?? (adapterFolder is not null ? PeftAdapterConfig.Load(Path.Combine(adapterFolder, ArtifactWriter.AdapterConfigFile)).BaseModelNameOrPath : null)
            ?? throw new ArgumentException("give --base or --adapter (the base model defaults to the adapter's base_model_name_or_path).");
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder(spec));
        if (adapterFolder is not null) AdapterLoader.Apply(model.Module, adapterFolder);
        var examples = IsRecordFile(dataFile)
            ? EncodeRecords(dataFile, model.Tokenizer, Formatter(template, adapterFolder, model.Tokenizer), model.Config.MaxPositionEmbeddings)
            : EncodeLines(dataFile, model.Tokenizer, model.Config.MaxPositionEmbeddings);
        int padId = model.Tokenizer.PadId ?? model.Tokenizer.EosId ?? 0;
        return LossEvaluator.Evaluate(model.Module, examples, batchSize, padId);
    }

    /// <summary>True when <paramref name="adapterFolder"/> holds a sequence-classification (SEQ_CLS) adapter.</summary>
    public static bool IsClassificationAdapter(string? adapterFolder) =>
        adapterFolder is not null && PeftAdapterConfig.Load(Path.Combine(adapterFolder, ArtifactWriter.AdapterConfigFile)).IsSequenceClassification;

    /// <summary>
    /// Scores classification records (<c>{"text", "label"}</c> JSON/JSONL or CSV) with a SEQ_CLS adapter: mean
    /// cross-entropy, accuracy, macro-F1 and the confusion matrix. Texts are cut to the recipe's
    /// <c>data.max_length</c> (from the adapter's recipe.resolved.yaml; else the model's positions).
    /// </summary>
    public static ClassificationResult EvaluateClassification(string? baseModel, string adapterFolder, string dataFile, int batchSize = 8)
    {
        var (model, _) = ClassifierLoader.Load(adapterFolder, baseModel);
        using (model)
        {
            var classifier = model.Classifier!;
            var labels = new LabelSet(classifier.Labels);
            int maxLength = MaxLengthOf(adapterFolder) ?? model.Config.MaxPositionEmbeddings;
            var examples = ClassificationData.Encode(dataFile, DataReader.Read(dataFile, "classification"), model.Tokenizer, labels, maxLength);
            return ClassificationEvaluator.Evaluate(classifier, examples, batchSize, model.Tokenizer.PadId ?? 0);
        }
    }

    /// <summary>data.max_length of the recipe that trained the adapter, or null.</summary>
    internal static int? MaxLengthOf(string adapterFolder)
    {
        string resolved = Path.Combine(adapterFolder, ArtifactWriter.ResolvedRecipeFile);
        return File.Exists(resolved) && RecipeLoader.Load(resolved).Recipe is { } recipe ? recipe.Data.MaxLength : null;
    }

    private static bool IsRecordFile(string path)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".json" or ".jsonl") return true;
        if (!File.Exists(path)) throw new DataFormatException(path, null, null, "the data file does not exist.");
        using var reader = new StreamReader(path);
        int c;
        while ((c = reader.Read()) >= 0 && char.IsWhiteSpace((char)c) || c == '\uFEFF') { }
        return c is '[' or '{';
    }

    /// <summary>--template if given, else the template of the recipe the adapter was trained with (its recipe.resolved.yaml), else alpaca.</summary>
    private static PromptFormatter Formatter(string? template, string? adapterFolder, TextTokenizer tokenizer)
    {
        if (template is not null) return PromptFormatter.For(template, tokenizer);
        string? resolved = adapterFolder is null ? null : Path.Combine(adapterFolder, ArtifactWriter.ResolvedRecipeFile);
        if (resolved is not null && File.Exists(resolved) && RecipeLoader.Load(resolved).Recipe is { } recipe)
            return PromptFormatter.For(recipe.Data.PromptTemplate, tokenizer);
        return PromptFormatter.For(PromptTemplate.Alpaca);
    }

    private static IReadOnlyList<TokenizedExample> EncodeRecords(string path, TextTokenizer tokenizer, PromptFormatter formatter, int maxLength)
    {
        var encoder = new ExampleEncoder(tokenizer, formatter, maxLength, trainOnInputs: false);
        return encoder.EncodeAll(DataReader.Read(path, "alpaca")).Examples;
    }

    private static IReadOnlyList<TokenizedExample> EncodeLines(string path, TextTokenizer tokenizer, int maxLength)
    {
        var examples = new List<TokenizedExample>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (line.Length == 0) continue;
            var ids = tokenizer.Encode(line, addSpecialTokens: true).Take(maxLength).ToArray();
            if (ids.Length < 2) continue;   // nothing after the first token to score
            examples.Add(new TokenizedExample(ids, ids, number));
        }
        if (examples.Count == 0) throw new DataFormatException(path, null, null, "no line has two or more tokens to score.");
        return examples;
    }
}
