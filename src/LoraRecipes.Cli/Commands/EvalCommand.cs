using System.CommandLine;
using System.Globalization;
using LoraRecipes.Evaluation;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora eval</c>: loss and perplexity of a base model, with or without an adapter, on a file.</summary>
internal static class EvalCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var baseModel = new Option<string?>("--base") { Description = "Base model: builtin:<name> or an HF folder (default: the adapter's base_model_name_or_path)." };
        var adapter = new Option<string?>("--adapter") { Description = "Adapter folder (adapter_config.json + adapter_model.safetensors)." };
        var data = new Option<string>("--data") { Description = "Alpaca JSON/JSONL (scored on responses) or a text file (one sample per line).", Required = true };
        var template = new Option<string?>("--template") { Description = "Prompt template for alpaca records: alpaca, chatml, llama3, plain (default: the adapter's recipe, else alpaca)." };
        var json = new Option<bool>("--json") { Description = "Print {\"loss\",\"perplexity\",\"tokens\"} as the last line." };
        var command = new Command("eval", "Mean next-token loss and perplexity over a data file.") { baseModel, adapter, data, template, json };
        command.SetAction(parse =>
        {
            if (parse.GetValue(baseModel) is null && parse.GetValue(adapter) is null)
            {
                CommonOptions.PrintError(console, "give --base, --adapter or both.");
                return ExitCodes.Usage;
            }
            return Failures.Guard(console, () =>
            {
                var result = FileEvaluator.Evaluate(parse.GetValue(baseModel), parse.GetValue(adapter), parse.GetValue(data)!, parse.GetValue(template));
                var inv = CultureInfo.InvariantCulture;
                if (parse.GetValue(json))
                    console.Profile.Out.Writer.WriteLine(string.Format(inv, "{{\"loss\":{0:R},\"perplexity\":{1:R},\"tokens\":{2}}}", result.Loss, result.Perplexity, result.Tokens));
                else
                    console.WriteLine(string.Format(inv, "loss {0:F4}  perplexity {1:F3}  over {2} tokens", result.Loss, result.Perplexity, result.Tokens));
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
