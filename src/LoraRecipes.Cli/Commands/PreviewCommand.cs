using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora preview &lt;recipe&gt; [--records N] [--json]</c>: the first training records exactly as they will
/// train — the rendered text, the token ids and pieces, which tokens carry loss (green) and which are masked (grey),
/// truncation at max_length and, with packing, the packed rows. <c>--json</c>: one {"text","ids","labels"} per line.
/// </summary>
internal static class PreviewCommand
{
    // Text as written (no \u003C for '<'), still valid JSON.
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(IAnsiConsole console)
    {
        var recipe = new Argument<string>("recipe") { Description = "Path to the recipe YAML." };
        var set = CommonOptions.Set();
        var records = new Option<int>("--records", "-n") { Description = "How many records of the training file to show.", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "One JSON object per record: {\"text\", \"ids\", \"labels\"} (labels -100 where masked)." };
        var command = new Command("preview", "Show the first records as they will train: text, tokens, and which tokens carry loss.") { recipe, set, records, json };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var plan = CommonOptions.LoadPlan(console, parse.GetValue(recipe)!, parse.GetValue(set));
            if (plan is null) return ExitCodes.InvalidInput;
            var d = plan.Recipe.Data;
            var tokenizer = TextTokenizer.Load(ModelLoader.ResolveFolder(plan.BaseModel));
            var formatter = PromptFormatter.For(d.PromptTemplate, tokenizer);
            var encoder = new ExampleEncoder(tokenizer, formatter, d.MaxLength, d.TrainOnInputs);
            var untruncated = new ExampleEncoder(tokenizer, formatter, int.MaxValue, d.TrainOnInputs);
            var shown = new List<TokenizedExample>();
            foreach (DataRecord record in DataReader.Records(plan.TrainPath, DataReader.FormatName(d.Format)).Take(Math.Max(0, parse.GetValue(records))))
            {
                string text = formatter.Model is not null && record.Text is null
                    ? formatter.RenderChat(record).Text
                    : string.Concat(formatter.Segments(record).Select(s => s.Text));
                TokenizedExample example = encoder.Encode(record);
                shown.Add(example);
                if (parse.GetValue(json))
                {
                    console.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(new { text, ids = example.InputIds, labels = example.Labels }, Json));
                    continue;
                }
                int fullLength = untruncated.Encode(record).InputIds.Length;
                WriteRecord(console, tokenizer, record, formatter.Name, text, example, fullLength, d.MaxLength);
            }
            if (!parse.GetValue(json) && d.Packing && shown.Count > 0) WritePacking(console, shown, d.MaxLength);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static void WriteRecord(IAnsiConsole console, TextTokenizer tokenizer, DataRecord record, string template, string text,
        TokenizedExample example, int fullLength, int maxLength)
    {
        console.MarkupLine($"[bold]record {record.RecordNumber}[/] (line {record.Line}, template {template}): {example.InputIds.Length} tokens, "
            + $"{example.TrainedTokens} trained [green](green)[/], {example.InputIds.Length - example.TrainedTokens} masked [grey](grey)[/]");
        console.MarkupLine("[grey]text:[/]");
        console.Profile.Out.Writer.WriteLine(text);
        // Each token as its decoded piece, coloured by whether it carries loss (axolotl's debug view), then its id.
        var pieces = new StringBuilder();
        for (int i = 0; i < example.InputIds.Length; i++)
        {
            string piece = Visible(tokenizer.Decode([example.InputIds[i]], skipSpecialTokens: false));
            string colour = example.Labels[i] == ExampleEncoder.IgnoreIndex ? "grey" : "green";
            pieces.Append($"[{colour}]{Markup.Escape(piece)}[/][dim]({example.InputIds[i]})[/] ");
        }
        console.MarkupLine("[grey]tokens:[/]");
        console.MarkupLine(pieces.ToString().TrimEnd());
        if (fullLength > maxLength)
            console.MarkupLine($"[yellow]truncated:[/] {fullLength} tokens cut to max_length {maxLength} ({fullLength - maxLength} dropped from the end)");
        console.WriteLine();
    }

    /// <summary>Newlines and tabs made visible so a piece stays on its line.</summary>
    private static string Visible(string piece) => piece.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);

    private static void WritePacking(IAnsiConsole console, List<TokenizedExample> shown, int maxLength)
    {
        console.MarkupLine($"[bold]packing[/] (max_length {maxLength}) of the records shown:");
        int row = 0;
        foreach (TokenizedExample packed in SequencePacker.Pack(shown, maxLength))
        {
            int[] lengths = packed.SegmentLengths ?? [packed.InputIds.Length];
            var boundaries = new List<int>();
            int at = 0;
            foreach (int length in lengths) boundaries.Add(at += length);
            console.MarkupLine($"  row {++row}: {packed.InputIds.Length} tokens, samples of {string.Join(" + ", lengths)} tokens (boundaries after {string.Join(", ", boundaries)})");
        }
    }
}
