using System.Text.Json;
using System.Text.Json.Nodes;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Export;

/// <summary>What an export wrote.</summary>
/// <param name="Directory">The export folder.</param>
/// <param name="Files">The files written, relative to it (the copied base model folder counted as one entry).</param>
/// <param name="TrainRecords">Records in data/train.jsonl.</param>
/// <param name="ValidationRecords">Records in data/validation.jsonl.</param>
public sealed record ExportResult(string Directory, IReadOnlyList<string> Files, int TrainRecords, int ValidationRecords);

/// <summary>
/// <c>dotnet lora export</c>: checks every recipe value against the engine (<see cref="ExportMappings"/>; anything
/// it cannot express is refused by name and nothing is written), then writes a ready-to-launch folder: the engine's
/// config, the data split and rendered as the engine reads it, the sharding config, launch scripts, README.md, the
/// evaluation samples, and <c>lora-export.json</c> (what was exported, for people and for a later re-export).
/// </summary>
public static class RecipeExporter
{
    /// <summary>The marker file that makes a folder a LoraRecipes export (an existing export may be replaced).</summary>
    public const string MarkerFile = "lora-export.json";

    /// <summary>Exports <paramref name="plan"/> for <paramref name="engine"/> into <paramref name="outputDirectory"/>.</summary>
    /// <exception cref="ExportRefusedException">A recipe value the engine cannot express.</exception>
    /// <exception cref="IOException">The output folder exists, is not empty and is not an earlier export.</exception>
    public static ExportResult Export(TrainingPlan plan, ExportEngine engine, ExportLauncher launcher, string outputDirectory)
    {
        var refusals = ExportMappings.Refusals(plan.Recipe, engine);
        if (refusals.Count > 0) throw new ExportRefusedException(plan.Recipe.Origin.RecipePath, refusals);
        string output = Path.GetFullPath(outputDirectory);
        PrepareOutput(output);

        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        var tokenizer = TextTokenizer.Load(folder);
        var data = ExportData.Load(plan, tokenizer);
        var (baseModel, revision) = plan.BaseModel.Kind switch
        {
            BaseModelKind.Builtin => ("./base_model", (string?)null),
            BaseModelKind.Folder => (folder, null),
            _ => (plan.BaseModel.Name, plan.BaseModel.Revision),
        };
        var context = new ExportContext(plan, launcher, baseModel, revision, ModelType(folder), tokenizer, data);
        string recipeFromExport = Path.GetRelativePath(output, plan.RecipePath).Replace('\\', '/');
        string header = Header(engine, launcher, plan.Recipe.Name, recipeFromExport);
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["README.md"] = ExportReadme.Text(context, engine, recipeFromExport),
            [MarkerFile] = Marker(plan, engine, launcher, recipeFromExport),
        };
        var engineFiles = engine == ExportEngine.Axolotl ? AxolotlExporter.Files(context, header) : LlamaFactoryExporter.Files(context, header);
        foreach (var (relative, text) in engineFiles) files[relative] = text;
        if (plan.Recipe.Evaluation.Samples.Count > 0)
            files["samples.txt"] = string.Concat(plan.Recipe.Evaluation.Samples.Select(s => s.ReplaceLineEndings(" ") + "\n"));

        foreach (var (relative, text) in files)
        {
            string path = Path.Combine(output, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            AtomicFile.WriteAllText(path, text);
            if (relative.EndsWith(".sh", StringComparison.Ordinal) && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }
        var written = files.Keys.ToList();
        if (plan.BaseModel.Kind == BaseModelKind.Builtin)
        {
            CopyFolder(folder, Path.Combine(output, "base_model"));
            written.Add("base_model/");
        }
        return new ExportResult(output, written, data.Train.Count, data.Validation.Count);
    }

    /// <summary>The comment header of the engine config: provenance, target version, how to launch and come back.</summary>
    public static string Header(ExportEngine engine, ExportLauncher launcher, string recipeName, string recipeFromExport) =>
        $"Exported by LoraRecipes from recipe '{recipeName}' ({recipeFromExport}):\n"
        + $"  dotnet lora export {recipeFromExport} --to {ExportNames.Of(engine)} --launcher {ExportNames.Of(launcher)}\n"
        + $"Target: {ExportNames.Display(engine)} ("
        + (engine == ExportEngine.Axolotl ? "keys of src/axolotl/utils/schemas/*.py, read at 0.15.0.dev0" : "keys of src/llamafactory/hparams/*.py, read at 0.9.3.dev0")
        + ").\n"
        + "Every recipe value is mapped below or the export is refused; see README.md and docs/distributed-training.md.\n"
        + "Launch: launch/single_node.sh (1 node x N GPUs) or launch/multi_node.sh (M nodes), from this folder.\n"
        + $"Back into the build: dotnet lora import-adapter output --recipe {recipeFromExport} --trainer \"{ExportNames.Display(engine)}\"";

    private static void PrepareOutput(string output)
    {
        if (!Directory.Exists(output) || !Directory.EnumerateFileSystemEntries(output).Any())
        {
            Directory.CreateDirectory(output);
            return;
        }
        if (!File.Exists(Path.Combine(output, MarkerFile)))
            throw new IOException($"{output}: the folder exists and is not an earlier export (no {MarkerFile}); choose an empty or new --out folder.");
        // An earlier export: replace what it wrote (the engine's ./output, if a run left one, is kept).
        foreach (string entry in new[] { "data", "launch", "base_model" })
            if (Directory.Exists(Path.Combine(output, entry))) Directory.Delete(Path.Combine(output, entry), recursive: true);
    }

    private static string Marker(TrainingPlan plan, ExportEngine engine, ExportLauncher launcher, string recipeFromExport) =>
        new JsonObject
        {
            ["format_version"] = 1,
            ["recipe"] = recipeFromExport,
            ["name"] = plan.Recipe.Name,
            ["engine"] = ExportNames.Of(engine),
            ["engine_version"] = engine == ExportEngine.Axolotl ? AxolotlExporter.TargetVersion : LlamaFactoryExporter.TargetVersion,
            ["launcher"] = ExportNames.Of(launcher),
            ["base_model"] = plan.Recipe.BaseModel,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    private static string? ModelType(string folder)
    {
        string config = Path.Combine(folder, "config.json");
        if (!File.Exists(config)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
        return doc.RootElement.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
    }
}
