using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using LoraRecipes.Evaluation;
using LoraRecipes.Runtime;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora eval</c>: loss and perplexity of a base model, with or without an adapter, on a file; with
/// <c>--metrics exact_match,bleu,rouge_l</c> also greedy generations on alpaca records scored against their outputs; with a
/// sequence-classification (SEQ_CLS) adapter, loss, accuracy, macro-F1 and the confusion matrix on text/label records.
/// </summary>
internal static class EvalCommand
{
    private static readonly string[] LossMetrics = ["loss", "perplexity"];
    /// <summary>What a sequence-classification (SEQ_CLS) adapter reports; all are computed together.</summary>
    private static readonly string[] ClassificationMetricNames = ["accuracy", "f1"];

    public static Command Create(IAnsiConsole console)
    {
        var baseModel = new Option<string?>("--base") { Description = "Base model: builtin:<name> or an HF folder (default: the adapter's base_model_name_or_path)." };
        var adapter = new Option<string?>("--adapter") { Description = "Adapter folder (adapter_config.json + adapter_model.safetensors)." };
        var data = new Option<string>("--data") { Description = "Alpaca JSON/JSONL (scored on responses), a text file (one sample per line), or text/label records (JSON/JSONL/CSV) for a sequence-classification adapter.", Required = true };
        var template = new Option<string?>("--template") { Description = "Prompt template for alpaca records: alpaca, chatml, llama3, plain (default: the adapter's recipe, else alpaca)." };
        var metrics = new Option<string>("--metrics") { Description = "Comma-separated: loss, perplexity, exact_match, bleu (corpus BLEU-4, sacrebleu 13a, 0-100), rouge_l (F1). Generation metrics need --adapter and alpaca records. A sequence-classification adapter always reports loss, accuracy, f1 (macro) and the confusion matrix.", DefaultValueFactory = _ => "loss,perplexity" };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Most tokens generated per record for generation metrics.", DefaultValueFactory = _ => 128 };
        var json = new Option<bool>("--json") { Description = "Print the metrics as one JSON object on the last line ({\"loss\",\"perplexity\",\"tokens\", …}; classification: {\"loss\",\"accuracy\",\"f1\",\"labels\",\"confusion_matrix\",\"records\"})." };
        var command = new Command("eval", "Loss/perplexity over a data file, generation metrics (exact match, BLEU, ROUGE-L) on alpaca records, or accuracy/F1/confusion matrix for a classification adapter.")
            { baseModel, adapter, data, template, metrics, maxNewTokens, json };
        command.SetAction(parse =>
        {
            if (parse.GetValue(baseModel) is null && parse.GetValue(adapter) is null)
            {
                CommonOptions.PrintError(console, "give --base, --adapter or both.");
                return ExitCodes.Usage;
            }
            var wanted = parse.GetValue(metrics)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
            var unknown = wanted.Except(LossMetrics).Except(GenerationMetrics.Names).Except(ClassificationMetricNames).ToList();
            if (unknown.Count > 0 || wanted.Count == 0)
            {
                CommonOptions.PrintError(console, $"unknown metric '{unknown.FirstOrDefault()}'; use {string.Join(", ", LossMetrics.Concat(GenerationMetrics.Names))}.");
                return ExitCodes.Usage;
            }
            var generation = wanted.Intersect(GenerationMetrics.Names).ToList();
            if (generation.Count > 0 && parse.GetValue(adapter) is null)
            {
                CommonOptions.PrintError(console, "generation metrics need --adapter.");
                return ExitCodes.Usage;
            }
            return Failures.Guard(console, () =>
            {
                if (FileEvaluator.IsClassificationAdapter(parse.GetValue(adapter)))
                {
                    if (generation.Count > 0) return UsageError(console, "generation metrics need a causal-lm adapter; this one is a sequence-classification (SEQ_CLS) adapter.");
                    return Classification(console, parse.GetValue(baseModel), parse.GetValue(adapter)!, parse.GetValue(data)!, parse.GetValue(json));
                }
                if (wanted.Intersect(ClassificationMetricNames).Any())
                    return UsageError(console, "accuracy and f1 need a sequence-classification adapter (--adapter with task_type SEQ_CLS).");
                var inv = CultureInfo.InvariantCulture;
                var result = new JsonObject();
                if (wanted.Intersect(LossMetrics).Any())
                {
                    var loss = FileEvaluator.Evaluate(parse.GetValue(baseModel), parse.GetValue(adapter), parse.GetValue(data)!, parse.GetValue(template));
                    result["loss"] = loss.Loss;
                    result["perplexity"] = loss.Perplexity;
                    result["tokens"] = loss.Tokens;
                    if (!parse.GetValue(json))
                        console.WriteLine(string.Format(inv, "loss {0:F4}  perplexity {1:F3}  over {2} tokens", loss.Loss, loss.Perplexity, loss.Tokens));
                }
                if (generation.Count > 0)
                {
                    using var model = AdaptedModels.Open(parse.GetValue(adapter)!, parse.GetValue(baseModel), parse.GetValue(template));
                    var scored = GenerationEvaluator.Evaluate(model, parse.GetValue(data)!, generation, parse.GetValue(maxNewTokens));
                    foreach (var (name, value) in scored.Metrics) result[name] = value;
                    result["records"] = scored.Samples.Count;
                    if (!parse.GetValue(json))
                    {
                        console.WriteLine(string.Join("  ", scored.Metrics.Select(p => string.Format(inv, "{0} {1:F4}", p.Key, p.Value)))
                            + $"  over {scored.Samples.Count} records (greedy)");
                    }
                }
                if (parse.GetValue(json)) console.Profile.Out.Writer.WriteLine(result.ToJsonString());
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static int UsageError(IAnsiConsole console, string message)
    {
        CommonOptions.PrintError(console, message);
        return ExitCodes.Usage;
    }

    /// <summary>Loss, accuracy, macro-F1 and the confusion matrix of a SEQ_CLS adapter on classification records.</summary>
    private static int Classification(IAnsiConsole console, string? baseModel, string adapter, string data, bool json)
    {
        var r = FileEvaluator.EvaluateClassification(baseModel, adapter, data);
        if (json)
        {
            var result = new JsonObject
            {
                ["loss"] = r.Loss,
                ["accuracy"] = r.Accuracy,
                ["f1"] = r.MacroF1,
                ["labels"] = new JsonArray(r.Labels.Select(l => (JsonNode?)l).ToArray()),
                ["confusion_matrix"] = new JsonArray(r.Metrics.Confusion.Select(row => (JsonNode?)new JsonArray(row.Select(n => (JsonNode?)n).ToArray())).ToArray()),
                ["records"] = r.Metrics.Count,
            };
            console.Profile.Out.Writer.WriteLine(result.ToJsonString());
            return ExitCodes.Success;
        }
        console.WriteLine(string.Format(CultureInfo.InvariantCulture, "accuracy {0:F4}  f1 {1:F4} (macro)  loss {2:F4}  over {3} records", r.Accuracy, r.MacroF1, r.Loss, r.Metrics.Count));
        console.WriteLine(ConfusionText(r.Labels, r.Metrics.Confusion));
        return ExitCodes.Success;
    }

    /// <summary>The confusion matrix as aligned plain text: rows are the actual class, columns the predicted one.</summary>
    internal static string ConfusionText(IReadOnlyList<string> labels, int[][] confusion)
    {
        int width = Math.Max(labels.Max(l => l.Length), confusion.SelectMany(r => r).Select(n => n.ToString(CultureInfo.InvariantCulture).Length).Max()) + 2;
        var sb = new System.Text.StringBuilder("confusion matrix (rows: actual, columns: predicted)\n");
        sb.Append(new string(' ', width));
        foreach (string l in labels) sb.Append(l.PadLeft(width));
        for (int i = 0; i < labels.Count; i++)
        {
            sb.Append('\n').Append(labels[i].PadLeft(width));
            foreach (int n in confusion[i]) sb.Append(n.ToString(CultureInfo.InvariantCulture).PadLeft(width));
        }
        return sb.ToString();
    }
}
