using System.CommandLine;
using LoraRecipes.Export;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora export &lt;recipe&gt; --to axolotl|llamafactory --out DIR [--launcher …]</c>: a ready-to-launch
/// folder for a distributed trainer; recipe values the engine cannot express are refused by name (exit 2).
/// </summary>
internal static class ExportCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var recipe = new Argument<string>("recipe") { Description = "Path to the recipe YAML." };
        var to = new Option<string>("--to") { Description = "The engine: axolotl or llamafactory.", Required = true };
        to.AcceptOnlyFromAmong("axolotl", "llamafactory");
        var output = new Option<string>("--out", "-o") { Description = "The export folder (new, empty, or an earlier export, which is replaced).", Required = true };
        var launcher = new Option<string>("--launcher")
        {
            Description = "How the run shards across GPUs: deepspeed-zero2, deepspeed-zero3 or fsdp.",
            DefaultValueFactory = _ => "deepspeed-zero2",
        };
        launcher.AcceptOnlyFromAmong("deepspeed-zero2", "deepspeed-zero3", "fsdp");
        var set = CommonOptions.Set();
        var command = new Command("export", "Write a ready-to-launch axolotl or LLaMA-Factory run of a recipe (config, data, DeepSpeed/FSDP, launch scripts) for multi-GPU training.")
            { recipe, to, output, launcher, set };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var plan = CommonOptions.LoadPlan(console, parse.GetValue(recipe)!, parse.GetValue(set));
            if (plan is null) return ExitCodes.InvalidInput;
            var engine = ExportNames.Engine(parse.GetValue(to)!)!.Value;
            try
            {
                var result = RecipeExporter.Export(plan, engine, ExportNames.Launcher(parse.GetValue(launcher)!)!.Value, parse.GetValue(output)!);
                console.MarkupLineInterpolated($"exported {plan.Recipe.Name} for {ExportNames.Display(engine)} into {result.Directory}");
                console.MarkupLineInterpolated($"  {result.TrainRecords} training and {result.ValidationRecords} validation records; files: {string.Join(", ", result.Files)}");
                console.MarkupLineInterpolated($"  launch: NPROC=<gpus> {Path.Combine(result.Directory, "launch", "single_node.sh")}  (README.md has the multi-node command and the way back)");
                return ExitCodes.Success;
            }
            catch (ExportRefusedException ex)
            {
                CommonOptions.PrintError(console, ex.Message);
                return ExitCodes.InvalidInput;
            }
            catch (IOException ex)
            {
                CommonOptions.PrintError(console, ex.Message);
                return ExitCodes.InvalidInput;
            }
        }));
        return command;
    }
}
