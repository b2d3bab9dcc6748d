using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraRecipes.Data;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Export;

/// <summary>
/// The recipe's records as the engines will see them: read in file order, split with the core's
/// <see cref="DatasetSplit"/> (the same records <c>dotnet lora run</c> holds out), and rendered here into
/// text segments with the recipe's prompt template, BOS and EOS, each marked trained or not. The engines then only
/// tokenize segment by segment, as <see cref="ExampleEncoder"/> does, so the tokens and the loss mask match ours.
/// </summary>
public sealed record ExportData(IReadOnlyList<IReadOnlyList<Segment>> Train, IReadOnlyList<IReadOnlyList<Segment>> Validation)
{
    /// <summary>Reads, splits and renders the plan's data with <paramref name="tokenizer"/>'s special tokens.</summary>
    public static ExportData Load(TrainingPlan plan, TextTokenizer tokenizer)
    {
        var d = plan.Recipe.Data;
        var formatter = PromptFormatter.For(d.PromptTemplate, tokenizer);
        var records = DataReader.Read(plan.TrainPath, d.Format);
        IReadOnlyList<DataRecord> train = records, validation = [];
        if (plan.ValidationPath is { } path) validation = DataReader.Read(path, d.Format);
        else (train, validation) = DatasetSplit.Split(records, d.ValidationSplit, (ulong)plan.Recipe.Training.Seed);
        return new ExportData(train.Select(r => Render(r, formatter, tokenizer)).ToList(), validation.Select(r => Render(r, formatter, tokenizer)).ToList());
    }

    /// <summary>
    /// One record as segments: BOS (untrained, when the tokenizer adds one), the template's segments, then EOS
    /// (trained), the sequence <see cref="ExampleEncoder.Encode"/> tokenizes.
    /// </summary>
    public static IReadOnlyList<Segment> Render(DataRecord record, PromptFormatter formatter, TextTokenizer tokenizer)
    {
        var segments = new List<Segment>();
        if (tokenizer.AddBosToken && tokenizer.BosToken is { } bos) segments.Add(new Segment(bos, false));
        segments.AddRange(formatter.Segments(record));
        // As the encoder: EOS ends the example unless the template's last turn already ends with it (Llama 3's <|eot_id|>).
        if (tokenizer.EosToken is { } eos && !(segments.Count > 0 && segments[^1].Text.EndsWith(eos, StringComparison.Ordinal)))
            segments.Add(new Segment(eos, true));
        return segments;
    }

    /// <summary>axolotl's <c>input_output</c> rows: <c>{"segments": [{"label": bool, "text": str}, …]}</c>, one per line.</summary>
    public static string ToAxolotlJsonl(IEnumerable<IReadOnlyList<Segment>> rows, bool trainOnInputs) =>
        Lines(rows.Select(segments => new JsonObject
        {
            ["segments"] = new JsonArray(segments.Select(s => (JsonNode?)new JsonObject
            {
                ["label"] = s.Trained || trainOnInputs,
                ["text"] = s.Text,
            }).ToArray()),
        }));

    /// <summary>
    /// LLaMA-Factory's sharegpt rows: untrained text becomes a <c>human</c> turn and trained text a <c>gpt</c> turn,
    /// alternating from a human turn (empty when the record starts with trained text, as <c>text</c> records do).
    /// With <c>template: empty</c> the turns are tokenized as written, each on its own.
    /// </summary>
    public static string ToSharegptJsonl(IEnumerable<IReadOnlyList<Segment>> rows) =>
        Lines(rows.Select(segments => new JsonObject { ["conversations"] = new JsonArray(Turns(segments).ToArray()) }));

    private static IEnumerable<JsonNode?> Turns(IReadOnlyList<Segment> segments)
    {
        var turns = new List<(bool Trained, StringBuilder Text)>();
        foreach (var s in segments)
        {
            if (turns.Count == 0 && s.Trained) turns.Add((false, new StringBuilder()));
            if (turns.Count == 0 || turns[^1].Trained != s.Trained) turns.Add((s.Trained, new StringBuilder()));
            turns[^1].Text.Append(s.Text);
        }
        return turns.Select(t => (JsonNode?)new JsonObject { ["from"] = t.Trained ? "gpt" : "human", ["value"] = t.Text.ToString() });
    }

    private static string Lines(IEnumerable<JsonObject> rows)
    {
        var text = new StringBuilder();
        foreach (var row in rows) text.Append(row.ToJsonString(JsonLine)).Append('\n');
        return text.ToString();
    }

    private static readonly JsonSerializerOptions JsonLine = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
