using System.CommandLine;
using LoraRecipes.Evaluation;
using LoraRecipes.Runtime;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora generate &lt;adapter&gt; --prompt …</c>: one completion from the base model plus the adapter.</summary>
internal static class GenerateCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var shared = new GenerationCommandOptions();
        var prompt = new Option<string>("--prompt", "-p") { Description = "The instruction (formatted with the recipe's prompt template unless --no-template).", Required = true };
        var command = new Command("generate", "Generate text with a trained adapter (base model from its adapter_config.json).") { prompt };
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
                // Printed as generated, whole characters at a time (a character split across tokens waits for its last byte).
                var writer = console.Profile.Out.Writer;
                model.Generate(parse.GetValue(prompt)!, options, raw: parse.GetValue(shared.NoTemplate), onText: piece =>
                {
                    writer.Write(piece);
                    writer.Flush();
                });
                writer.WriteLine();
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
