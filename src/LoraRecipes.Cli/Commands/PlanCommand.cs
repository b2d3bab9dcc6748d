using System.CommandLine;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora plan &lt;recipe&gt;</c>: the resolved plan, the LoRA modules and the fingerprint.</summary>
internal static class PlanCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var recipe = new Argument<string>("recipe") { Description = "Path to the recipe YAML." };
        var set = CommonOptions.Set();
        var command = new Command("plan", "Show the resolved recipe, the LoRA modules, trainable vs total parameters and the fingerprint.") { recipe, set };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var plan = CommonOptions.LoadPlan(console, parse.GetValue(recipe)!, parse.GetValue(set));
            if (plan is null) return ExitCodes.InvalidInput;
            console.WriteLine(PlanWriter.ToYaml(plan));
            using var model = ModelLoader.Load(ModelLoader.ResolveFolder(plan.BaseModel));
            var wrapped = LoraInjector.Inject(model.Module, LoraTrainer.ToSettings(plan.Recipe.Lora));
            long total = model.Module.parameters().Sum(p => p.numel());
            long trainable = model.Module.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
            console.WriteLine($"base model: {plan.Recipe.BaseModel} ({model.Config.ModelType}, {model.Folder})");
            console.WriteLine($"LoRA modules ({wrapped.Count}): {string.Join(", ", wrapped.Keys)}");
            console.WriteLine(FormattableString.Invariant($"trainable params: {trainable:N0} || all params: {total:N0} || trainable%: {100.0 * trainable / total:F4}"));
            console.WriteLine($"output: {plan.OutputDirectory}");
            console.WriteLine($"fingerprint: {plan.Fingerprint}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
