using System.CommandLine;
using System.Text;
using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Runtime;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora chat &lt;adapter&gt;</c>: read a line, answer it, repeat until end of input or <c>/exit</c>.
/// Earlier turns are kept in the prompt (each formatted with the recipe's template) until <c>/reset</c>.
/// </summary>
internal static class ChatCommand
{
    public static Command Create(IAnsiConsole console, TextReader input)
    {
        var shared = new GenerationCommandOptions();
        var noHistory = new Option<bool>("--no-history") { Description = "Answer each line on its own, without the earlier turns." };
        var command = new Command("chat", "Chat with a trained adapter: one prompt per line; /reset forgets the history, /exit (or end of input) quits.") { noHistory };
        shared.AddTo(command);
        command.SetAction(parse =>
        {
            var (options, error) = shared.Read(parse);
            if (options is null)
            {
                CommonOptions.PrintError(console, error!);
                return ExitCodes.Usage;
            }
            return Failures.Guard(console, () =>
            {
                using var model = AdaptedModels.Open(parse.GetValue(shared.Adapter)!, parse.GetValue(shared.Base));
                Loop(console, input, model, options, parse.GetValue(shared.NoTemplate), parse.GetValue(noHistory));
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static void Loop(IAnsiConsole console, TextReader input, AdaptedModel model, GenerationOptions options, bool raw, bool noHistory)
    {
        console.MarkupLine($"[grey]chat with {Markup.Escape(model.AdapterFolder)} (template {model.Formatter.Name}); /reset clears the history, /exit quits.[/]");
        var history = new StringBuilder();
        var turns = new List<ChatMessage>(); // prompt_template: model re-renders the whole conversation each turn
        var turnOptions = raw ? options : model.WithStops(options);
        while (true)
        {
            console.Markup("[bold]> [/]");
            string? line = input.ReadLine();
            if (line is null || line.Trim() == "/exit") break;
            if (line.Trim() == "/reset")
            {
                history.Clear();
                turns.Clear();
                console.MarkupLine("[grey](history cleared)[/]");
                continue;
            }
            if (line.Trim().Length == 0) continue;
            string turn = raw ? line + "\n" : model.Formatter.FormatPrompt(line);
            string prompt = (noHistory ? "" : history.ToString()) + turn;
            if (!raw && model.Formatter.Model is not null)
                prompt = model.Formatter.FormatConversation([.. noHistory ? [] : turns, new ChatMessage("user", line)]);
            var writer = console.Profile.Out.Writer;
            string reply = TextGenerator.Generate(model.Model.Module, model.Model.Tokenizer, prompt, turnOptions, onText: piece =>
            {
                writer.Write(piece);
                writer.Flush();
            });
            writer.WriteLine();
            history.Append(turn).Append(reply).Append(model.Formatter.EndOfTurn).Append(raw ? "\n" : "\n\n");
            turns.Add(new ChatMessage("user", line));
            turns.Add(new ChatMessage("assistant", reply));
        }
    }
}
