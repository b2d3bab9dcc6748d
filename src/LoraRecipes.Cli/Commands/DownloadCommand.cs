using System.CommandLine;
using LoraRecipes.Models;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora download org/name[@rev]</c>: pre-fetch a hub model into the Hugging Face cache.</summary>
internal static class DownloadCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var model = new Argument<string>("model") { Description = "Hub id org/name, optionally @revision (branch, tag or commit)." };
        var command = new Command("download", "Download a model's config, tokenizer and safetensors weights into the Hugging Face cache (HF_HOME / HF_HUB_CACHE; HF_TOKEN for gated repos).") { model };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            string spec = parse.GetValue(model)!;
            int at = spec.IndexOf('@');
            string id = at < 0 ? spec : spec[..at];
            string? revision = at < 0 ? null : spec[(at + 1)..];
            string lastFile = "";
            string folder = ModelLoader.DownloadFromHub(id, revision, p =>
            {
                if (p.File == lastFile && p.Downloaded != p.Total) return;
                lastFile = p.File;
                if (p.Downloaded == p.Total || p.Total < 0) console.WriteLine($"  {p.File} ({p.Downloaded:N0} bytes)");
            });
            console.WriteLine($"{spec}: {folder}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
