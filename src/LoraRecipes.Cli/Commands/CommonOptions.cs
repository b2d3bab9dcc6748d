using System.CommandLine;
using LoraRecipes.Recipes;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>Options and helpers several verbs share.</summary>
internal static class CommonOptions
{
    public static Option<string[]> Set() => new("--set")
    {
        Description = "Override a recipe value, e.g. --set lora.r=8 (repeatable).",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>Loads and resolves a recipe; prints every diagnostic in the canonical file(line,col) form.</summary>
    public static TrainingPlan? LoadPlan(IAnsiConsole console, string recipe, string[]? overrides, string? output = null, string? device = null)
    {
        var options = new PlanOptions
        {
            OutputDirOverride = output is null ? null : Path.GetFullPath(output),
            DeviceOverride = device,
            ToolVersion = Artifacts.ToolInfo.Version,
            BuiltinModelVersion = Models.BuiltinModels.Version,
        };
        var result = RecipeLoader.LoadPlan(recipe, overrides ?? [], options);
        PrintDiagnostics(console, result.Diagnostics);
        if (result.Plan is null) return null;
        // What run would refuse for this base model (packing on GPT-2, an unsupported rope_type, …), at the recipe's key.
        var modelChecks = Training.PlanChecks.Check(result.Plan);
        PrintDiagnostics(console, modelChecks);
        return modelChecks.Any(d => d.IsError) ? null : result.Plan;
    }

    public static void PrintDiagnostics(IAnsiConsole console, IEnumerable<RecipeDiagnostic> diagnostics)
    {
        foreach (var d in diagnostics)
        {
            string color = d.Severity == DiagnosticSeverity.Error ? "red" : "yellow";
            console.MarkupLine($"[{color}]{Markup.Escape(d.ToString())}[/]");
        }
    }

    /// <summary>Prints a user-facing failure as one line (no stack trace).</summary>
    public static void PrintError(IAnsiConsole console, string message) =>
        console.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");
}
