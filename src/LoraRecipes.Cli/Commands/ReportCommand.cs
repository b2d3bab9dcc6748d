using System.CommandLine;
using LoraRecipes.Artifacts;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora report &lt;artifact&gt;</c>: a one-page, self-contained HTML summary of a run.</summary>
internal static class ReportCommand
{
    public const string FileName = "report.html";

    public static Command Create(IAnsiConsole console)
    {
        var artifact = new Argument<string>("artifact") { Description = "Artifact folder (lora-manifest.json, metrics.jsonl, recipe.resolved.yaml)." };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write the HTML (default: report.html in the artifact folder)." };
        var command = new Command("report", "Write a one-page HTML report: plan, metrics, loss curve and sample generations (no external files).") { artifact, output };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var folder = AdapterFolder.Open(parse.GetValue(artifact)!, requireAdapter: false);
            string path = Path.GetFullPath(parse.GetValue(output) ?? folder.File(FileName));
            IO.AtomicFile.WriteAllText(path, ReportHtml.Render(folder));
            console.MarkupLineInterpolated($"wrote {path}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
