using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora verify &lt;artifact&gt;</c>: re-hash every input the manifest names and say whether the
/// artifact can still be reproduced from them. Exit 0 when every input matches, 1 otherwise.
/// </summary>
/// <remarks>
/// The recipe library records inputs with absolute paths (<c>InputFile.Path</c>: data files and, for a
/// folder base model, its config/tokenizer/weight files; a builtin base has no files, its generator version
/// is in the fingerprint). A relative path, as a hand-edited or relocated manifest may hold, is taken
/// relative to the artifact folder. The recipe itself is checked too when its source still exists: its
/// re-computed fingerprint says whether a rerun would retrain (informational; the resolved recipe next to the
/// adapter is what reproduces it).
/// </remarks>
internal static class VerifyCommand
{
    /// <summary>One input's state.</summary>
    internal enum InputState { Unchanged, Changed, Missing }

    public static Command Create(IAnsiConsole console)
    {
        var artifact = new Argument<string>("artifact") { Description = "Artifact folder (with lora-manifest.json)." };
        var command = new Command("verify", "Re-hash the inputs recorded in an artifact's manifest and report whether it is still reproducible.") { artifact };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var folder = ArtifactFolder.Open(parse.GetValue(artifact)!);
            if (folder.Manifest is not { } manifest)
            {
                CommonOptions.PrintError(console, $"{folder.File(ArtifactWriter.ManifestFile)}: no manifest; only adapters trained by dotnet lora can be verified.");
                return ExitCodes.InvalidInput;
            }
            var table = new Table().AddColumn("input").AddColumn("status");
            int bad = 0;
            foreach (var (path, state, detail) in Check(folder.Path, manifest))
            {
                if (state != InputState.Unchanged) bad++;
                string status = state switch
                {
                    InputState.Unchanged => "[green]unchanged[/]",
                    InputState.Changed => $"[red]changed[/] {Markup.Escape(detail)}",
                    _ => "[red]missing[/]",
                };
                table.AddRow(Markup.Escape(path), status);
            }
            console.Write(table);
            string? recipeState = CheckRecipe(folder, manifest);
            if (recipeState is not null) console.MarkupLine(Markup.Escape(recipeState));
            if (bad == 0)
            {
                console.MarkupLine($"[green]reproducible:[/] all {manifest["inputs"]?.AsArray().Count ?? 0} inputs match the manifest (fingerprint {Markup.Escape((string?)manifest["fingerprint"] ?? "?")}).");
                return ExitCodes.Success;
            }
            console.MarkupLine($"[red]not reproducible:[/] {bad} input(s) changed or missing since the adapter was trained.");
            return ExitCodes.InvalidInput;
        }));
        return command;
    }

    /// <summary>Each recorded input: where it is, whether it still has the recorded size and SHA-256.</summary>
    internal static IEnumerable<(string Path, InputState State, string Detail)> Check(string artifactFolder, JsonObject manifest)
    {
        if (manifest["inputs"] is not JsonArray inputs) yield break;
        foreach (var input in inputs.OfType<JsonObject>())
        {
            string recorded = (string?)input["path"] ?? "";
            string path = Path.IsPathRooted(recorded) ? recorded : Path.GetFullPath(Path.Combine(artifactFolder, recorded));
            if (!File.Exists(path))
            {
                yield return (recorded, InputState.Missing, "");
                continue;
            }
            long bytes = (long?)input["bytes"] ?? -1;
            using var stream = File.OpenRead(path);
            string sha = Convert.ToHexStringLower(SHA256.HashData(stream));
            if (sha == (string?)input["sha256"] && stream.Length == bytes) yield return (recorded, InputState.Unchanged, "");
            else yield return (recorded, InputState.Changed, $"(now {stream.Length} bytes, sha256 {sha[..12]}…; recorded {bytes} bytes)");
        }
    }

    /// <summary>Re-plans the source recipe (with the recorded --set overrides) and compares fingerprints; null when the source is gone.</summary>
    private static string? CheckRecipe(ArtifactFolder folder, JsonObject manifest)
    {
        string resolved = folder.File(ArtifactWriter.ResolvedRecipeFile);
        if (!File.Exists(resolved)) return null;
        var header = File.ReadLines(resolved).TakeWhile(l => l.StartsWith('#')).ToList();
        string? source = header.FirstOrDefault(l => l.StartsWith("# Source: ", StringComparison.Ordinal))?["# Source: ".Length..];
        if (source is null || !File.Exists(source)) return "recipe: the source recipe is gone; recipe.resolved.yaml beside the adapter still describes the run.";
        var overrides = header.Where(l => l.StartsWith("# --set ", StringComparison.Ordinal)).Select(l => l["# --set ".Length..]).ToList();
        var result = Recipes.RecipeLoader.LoadPlan(source, overrides, new Recipes.PlanOptions
        {
            ToolVersion = ToolInfo.Version,
            BuiltinModelVersion = Models.BuiltinModels.Version,
        });
        if (result.Plan is null) return $"recipe: {source} no longer validates (dotnet lora validate {source}).";
        return result.Plan.Fingerprint == (string?)manifest["fingerprint"]
            ? $"recipe: {source} unchanged (same fingerprint): `dotnet lora run` would not need to retrain."
            : $"recipe: {source} now has fingerprint {result.Plan.Fingerprint[..12]}… (the recipe, its data or the tool version changed since this artifact).";
    }
}
