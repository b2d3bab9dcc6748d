using System.CommandLine;
using LoraRecipes.Artifacts;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora import-adapter &lt;peft-folder&gt; --recipe R [--trainer "axolotl 0.15"] [--output DIR]</c>: checks an
/// adapter trained elsewhere against the recipe and writes the recipe's artifact folder (manifest with its fingerprint).
/// </summary>
internal static class ImportAdapterCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var adapter = new Argument<string>("peft-folder") { Description = "The adapter another trainer wrote (adapter_config.json + adapter_model.safetensors)." };
        var recipe = new Option<string>("--recipe") { Description = "The recipe the adapter was trained from (its fingerprint goes into the manifest).", Required = true };
        var trainer = new Option<string>("--trainer") { Description = "Who trained it, recorded as provenance, e.g. \"axolotl 0.15\".", DefaultValueFactory = _ => "external" };
        var output = new Option<string?>("--output", "-o") { Description = "Artifact folder (default: the recipe's output.dir; for a <LoraRecipe> item, its OutputDir)." };
        var set = CommonOptions.Set();
        var command = new Command("import-adapter", "Check a PEFT adapter trained elsewhere (axolotl, LLaMA-Factory, PEFT) against a recipe and write it as the recipe's up-to-date artifact.")
            { adapter, recipe, trainer, output, set };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var plan = CommonOptions.LoadPlan(console, parse.GetValue(recipe)!, parse.GetValue(set), parse.GetValue(output));
            if (plan is null) return ExitCodes.InvalidInput;
            try
            {
                var result = AdapterImporter.Import(plan, parse.GetValue(adapter)!, parse.GetValue(trainer)!);
                console.MarkupLineInterpolated($"imported {result.Modules} adapted modules trained by {parse.GetValue(trainer)} into {result.OutputDirectory}");
                console.MarkupLineInterpolated($"fingerprint: {result.Fingerprint} (builds with this recipe now skip training)");
                return ExitCodes.Success;
            }
            catch (AdapterImportException ex)
            {
                CommonOptions.PrintError(console, ex.Message);
                return ExitCodes.InvalidInput;
            }
        }));
        return command;
    }
}
