using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Runtime;

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
        var adapter = adapterFolder is null ? null : AdapterFolder.Open(adapterFolder);
        string spec = baseModel ?? adapter?.BaseModel()
            ?? throw new ArgumentException("give --base or --adapter (the base model defaults to the adapter's base_model_name_or_path).");
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder(spec));
        adapter?.Apply(model.Module);
        // --template, else the adapter's recipe's template, else alpaca.
        var formatter = adapter?.Formatter(model.Tokenizer, template) ?? (template is null ? PromptFormatter.For(PromptTemplate.Alpaca) : PromptFormatter.For(template, model.Tokenizer));
        var examples = IsRecordFile(dataFile)
            ? EncodeRecords(dataFile, model.Tokenizer, formatter, model.Config.MaxPositionEmbeddings)
            : EncodeLines(dataFile, model.Tokenizer, model.Config.MaxPositionEmbeddings);
        int padId = model.Tokenizer.PadId ?? model.Tokenizer.EosId ?? 0;
        return LossEvaluator.Evaluate(model.Module, examples, batchSize, padId);
    }

    /// <summary>True when <paramref name="adapterFolder"/> holds a sequence-classification (SEQ_CLS) adapter.</summary>
    public static bool IsClassificationAdapter(string? adapterFolder) =>
        adapterFolder is not null && AdapterFolder.Open(adapterFolder).IsSequenceClassification;

    /// <summary>
    /// Scores classification records (<c>{"text", "label"}</c> JSON/JSONL or CSV) with a SEQ_CLS adapter: mean
    /// cross-entropy, accuracy, macro-F1 and the confusion matrix. Texts are cut to the recipe's
    /// <c>data.max_length</c> (from the adapter's recipe.resolved.yaml; else the model's positions).
    /// </summary>
    public static ClassificationResult EvaluateClassification(string? baseModel, string adapterFolder, string dataFile, int batchSize = 8)
    {
        var adapter = AdapterFolder.Open(adapterFolder);
        var (model, _) = adapter.Load(baseModel);
        using (model)
        {
            var classifier = model.Classifier!;
            var labels = new LabelSet(classifier.Labels);
            int maxLength = adapter.Recipe?.Data.MaxLength ?? model.Config.MaxPositionEmbeddings;
            var examples = ClassificationData.Encode(dataFile, DataReader.Read(dataFile, "classification"), model.Tokenizer, labels, maxLength);
            return ClassificationEvaluator.Evaluate(classifier, examples, batchSize, model.Tokenizer.PadId ?? 0);
        }
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
