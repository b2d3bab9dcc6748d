using System.CommandLine;
using System.Security.Cryptography;
using LoraRecipes.Artifacts;
using LoraRecipes.Recipes.Artifacts;
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
/// adapter is what reproduces it). The source recipe and its <c>--set</c> overrides come from the manifest's
/// provenance (format 2); folders written before it keep them only in the comment header of recipe.resolved.yaml,
/// which is read then.
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
            var folder = AdapterFolder.Open(parse.GetValue(artifact)!, requireAdapter: false);
            if (folder.Manifest is not { } manifest)
            {
                CommonOptions.PrintError(console, $"{folder.File(ArtifactFiles.Manifest)}: no manifest; only adapters trained by dotnet lora can be verified.");
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
                console.MarkupLine($"[green]reproducible:[/] all {manifest.Inputs.Count} inputs match the manifest (fingerprint {Markup.Escape(manifest.Fingerprint ?? "?")}).");
                return ExitCodes.Success;
            }
            console.MarkupLine($"[red]not reproducible:[/] {bad} input(s) changed or missing since the adapter was trained.");
            return ExitCodes.InvalidInput;
        }));
        return command;
    }

    /// <summary>Each recorded input: where it is, whether it still has the recorded size and SHA-256.</summary>
    internal static IEnumerable<(string Path, InputState State, string Detail)> Check(string artifactFolder, LoraManifest manifest)
    {
        foreach (var input in manifest.Inputs)
        {
            string recorded = input.Path;
            string path = Path.IsPathRooted(recorded) ? recorded : Path.GetFullPath(Path.Combine(artifactFolder, recorded));
            if (!File.Exists(path))
            {
                yield return (recorded, InputState.Missing, "");
                continue;
            }
            using var stream = File.OpenRead(path);
            string sha = Convert.ToHexStringLower(SHA256.HashData(stream));
            if (sha == input.Sha256 && stream.Length == input.Bytes) yield return (recorded, InputState.Unchanged, "");
            else yield return (recorded, InputState.Changed, $"(now {stream.Length} bytes, sha256 {sha[..12]}…; recorded {input.Bytes} bytes)");
        }
    }

    /// <summary>Re-plans the source recipe (with the recorded --set overrides) and compares fingerprints; null when the source is unknown.</summary>
    private static string? CheckRecipe(AdapterFolder folder, LoraManifest manifest)
    {
        var (source, overrides) = manifest.Provenance?.SourceRecipe is { } recorded
            ? (recorded, manifest.Provenance.Overrides ?? [])
            : HeaderProvenance(folder.File(ArtifactFiles.ResolvedRecipe));
        if (source is null) return null;
        if (!File.Exists(source)) return "recipe: the source recipe is gone; recipe.resolved.yaml beside the adapter still describes the run.";
        var result = Recipes.RecipeLoader.LoadPlan(source, overrides, new Recipes.PlanOptions
        {
            ToolVersion = ToolInfo.Version,
            BuiltinModelVersion = Models.BuiltinModels.Version,
        });
        if (result.Plan is null) return $"recipe: {source} no longer validates (dotnet lora validate {source}).";
        return result.Plan.Fingerprint == manifest.Fingerprint
            ? $"recipe: {source} unchanged (same fingerprint): `dotnet lora run` would not need to retrain."
            : $"recipe: {source} now has fingerprint {result.Plan.Fingerprint[..12]}… (the recipe, its data or the tool version changed since this artifact).";
    }

    /// <summary>
    /// Manifests of format 1 carry no provenance: the source and overrides are the <c># Source:</c> / <c># --set</c>
    /// comment lines recipe.resolved.yaml starts with. (null, []) when there is no such header.
    /// </summary>
    private static (string? Source, IReadOnlyList<string> Overrides) HeaderProvenance(string resolved)
    {
        if (!File.Exists(resolved)) return (null, []);
        var header = File.ReadLines(resolved).TakeWhile(l => l.StartsWith('#')).ToList();
        string? source = header.FirstOrDefault(l => l.StartsWith("# Source: ", StringComparison.Ordinal))?["# Source: ".Length..];
        return (source, header.Where(l => l.StartsWith("# --set ", StringComparison.Ordinal)).Select(l => l["# --set ".Length..]).ToList());
    }
}
