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
            console.WriteLine($"adapted modules ({modules}), by target:");
            foreach (var group in counts.Targets)
                console.WriteLine($"  {group.Name} ({group.Paths.Count}): {group.Compact}");
            if (counts.ModulesToSave.Count > 0)
                console.WriteLine(FormattableString.Invariant($"modules_to_save (trained in full, saved with the adapter): {string.Join(", ", counts.ModulesToSave)} ({counts.SavedModuleParameters:N0} params)"));
            console.WriteLine(counts.PeftLine);
            console.WriteLine($"output: {plan.OutputDirectory}");
            console.WriteLine($"fingerprint: {plan.Fingerprint}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
