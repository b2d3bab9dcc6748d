using System.CommandLine;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora plan &lt;recipe&gt;</c>: the resolved plan, the adapted modules and the fingerprint.</summary>
internal static class PlanCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var recipe = new Argument<string>("recipe") { Description = "Path to the recipe YAML." };
        var set = CommonOptions.Set();
        var command = new Command("plan", "Show the resolved recipe, the adapted modules, trainable vs total parameters and the fingerprint.") { recipe, set };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var plan = CommonOptions.LoadPlan(console, parse.GetValue(recipe)!, parse.GetValue(set));
            if (plan is null) return ExitCodes.InvalidInput;
            console.WriteLine(PlanWriter.ToYaml(plan));
            var counts = TrainableParameters.For(plan);
            console.WriteLine($"base model: {plan.Recipe.BaseModel} ({counts.ModelType}, {counts.ModelFolder})");
            int modules = counts.Targets.Sum(g => g.Paths.Count);
            if (counts.Freeze is { } f)
            {
                console.WriteLine($"freeze: blocks {Blocks(f.InitialBlocks)} of 0..{f.BlockCount - 1} train in full ({(f.Modules.Count == 0 ? "all sub-modules" : string.Join(", ", f.Modules))})" +
                    (f.HeadModules.Count > 0 ? $", with {string.Join(", ", f.HeadModules)}" : "") + "; the rest is frozen");
                if (f.FinalJoinsAfter is { } after)
                    console.WriteLine($"unfreeze schedule: one more block at a time (the next one down), blocks {Blocks(f.FinalBlocks)} trainable after {after:N0} {(f.Unit == UnfreezeUnit.Steps ? "steps" : "epochs")}");
            }
            else
            {
                console.WriteLine($"adapted modules ({modules}), by target:");
                foreach (var group in counts.Targets)
                    console.WriteLine($"  {group.Name} ({group.Paths.Count}): {group.Compact}");
            }
            if (counts.ModulesToSave.Count > 0)
                console.WriteLine(FormattableString.Invariant($"modules_to_save (trained in full, saved with the adapter): {string.Join(", ", counts.ModulesToSave)} ({counts.SavedModuleParameters:N0} params)"));
            if (counts.Freeze is { FinalJoinsAfter: not null })
            {
                console.WriteLine("at start: " + counts.PeftLine);
                console.WriteLine("at end:   " + counts.PeftLineAtEnd);
            }
            else console.WriteLine(counts.PeftLine);
            console.WriteLine($"output: {plan.OutputDirectory}");
            console.WriteLine($"fingerprint: {plan.Fingerprint}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static string Blocks(IReadOnlyList<int> blocks) => blocks.Count == 0 ? "none" : blocks.Count == 1 ? $"{blocks[0]}" : $"{blocks[0]}..{blocks[^1]}";
}
