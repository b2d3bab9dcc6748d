using System.CommandLine;
using LoraRecipes.Cli.Rendering;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora run &lt;recipe&gt;</c>: train the adapter a recipe describes.</summary>
internal static class RunCommand
{
    public static Command Create(IAnsiConsole console, CancellationToken cancellation)
    {
        var recipe = new Argument<string>("recipe") { Description = "Path to the recipe YAML." };
        var set = CommonOptions.Set();
        var output = new Option<string?>("--output", "-o") { Description = "Artifact folder (default: the recipe's output.dir)." };
        var device = new Option<string?>("--device") { Description = "auto, cpu, cuda or cuda:N (overrides training.device)." };
        var command = new Command("run", "Train a LoRA adapter from a recipe and write the PEFT artifacts.") { recipe, set, output, device };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var plan = CommonOptions.LoadPlan(console, parse.GetValue(recipe)!, parse.GetValue(set), parse.GetValue(output), parse.GetValue(device));
            if (plan is null) return ExitCodes.InvalidInput;
            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                interrupt.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                var summary = TrainingRenderer.Train(console, plan, interrupt.Token);
                TrainingRenderer.PrintSummary(console, plan, summary);
                return ExitCodes.Success;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }));
        return command;
    }
}
