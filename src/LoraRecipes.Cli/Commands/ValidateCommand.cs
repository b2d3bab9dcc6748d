using System.CommandLine;
using LoraRecipes.Data;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora validate &lt;recipe&gt;…</c>: check recipes and their data without training.</summary>
internal static class ValidateCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var recipes = new Argument<string[]>("recipes") { Description = "One or more recipe files.", Arity = ArgumentArity.OneOrMore };
        var set = CommonOptions.Set();
        var command = new Command("validate", "Check recipes (schema, values, data files and records) without training.") { recipes, set };
        command.SetAction(parse =>
        {
            int failed = 0;
            foreach (string path in parse.GetValue(recipes)!)
            {
                int code = Failures.Guard(console, () =>
                {
                    var plan = CommonOptions.LoadPlan(console, path, parse.GetValue(set));
                    if (plan is null) return ExitCodes.InvalidInput;
                    // Streamed: every record is parsed and checked, none is kept (a JSONL file of any size validates in constant memory).
                    string format = DataReader.FormatName(plan.Recipe.Data.Format);
                    int records = DataReader.Records(plan.TrainPath, format).Count();
                    if (plan.ValidationPath is { } v) records += DataReader.Records(v, format).Count();
                    console.WriteLine($"{path}: ok ({records} records, fingerprint {plan.Fingerprint[..12]})");
                    return ExitCodes.Success;
                });
                if (code != ExitCodes.Success) failed++;
            }
            return failed == 0 ? ExitCodes.Success : ExitCodes.InvalidInput;
        });
        return command;
    }
}
