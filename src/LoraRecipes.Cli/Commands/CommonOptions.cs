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

    /// <summary><c>--log-format text|json</c>: how progress goes to stdout (people, or NDJSON events for tools).</summary>
    public static Option<string> LogFormatOption()
    {
        var option = new Option<string>("--log-format")
        {
            Description = "Progress on stdout: text (for people) or json (one event per line, NDJSON; see docs/events.md).",
            DefaultValueFactory = _ => "text",
        };
        option.AcceptOnlyFromAmong("text", "json");
        return option;
    }

    /// <summary><c>--log-file &lt;path&gt;</c>: the NDJSON event stream also written to a file, whatever the log format.</summary>
    public static Option<string?> LogFileOption() => new("--log-file")
    {
        Description = "Also write every event as NDJSON to this file (replaced if it exists).",
    };

    /// <summary>
    /// Loads and resolves a recipe; prints every diagnostic in the canonical file(line,col) form, or hands each to
    /// <paramref name="report"/> when given.
    /// </summary>
    public static TrainingPlan? LoadPlan(IAnsiConsole console, string recipe, string[]? overrides, string? output = null, string? device = null,
        Action<RecipeDiagnostic>? report = null)
    {
        void Print(IEnumerable<RecipeDiagnostic> diagnostics)
        {
            if (report is null) PrintDiagnostics(console, diagnostics);
            else foreach (var d in diagnostics) report(d);
        }

        var options = new PlanOptions
        {
            OutputDirOverride = output is null ? null : Path.GetFullPath(output),
            DeviceOverride = device,
            ToolVersion = Artifacts.ToolInfo.Version,
            BuiltinModelVersion = Models.BuiltinModels.Version,
        };
        var result = RecipeLoader.LoadPlan(recipe, overrides ?? [], options);
        Print(result.Diagnostics);
        if (result.Plan is null) return null;
        // What run would refuse for this base model (packing on GPT-2, an unsupported rope_type, …), at the recipe's key.
        var modelChecks = Training.PlanChecks.Check(result.Plan);
        Print(modelChecks);
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
