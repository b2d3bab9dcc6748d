using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraRecipes.Build;

/// <summary>
/// Validates each <c>LoraRecipe</c> and resolves its training plan with the pure-managed recipe library
/// (no TorchSharp in the MSBuild node), reporting problems as canonical
/// <c>recipes/medical.yaml(12,5): error LORA012: …</c> build errors. Each plan's fingerprint is compared
/// with the one in the existing <c>lora-manifest.json</c> of its output folder: equal means up to date.
/// </summary>
public sealed class LoraPlanRecipes : Microsoft.Build.Utilities.Task
{
    /// <summary>The <c>LoraRecipe</c> items, with <c>OutputDir</c>, <c>AdapterName</c>, <c>Overrides</c> and <c>Train</c> metadata.</summary>
    [Required]
    public ITaskItem[] Recipes { get; set; } = [];

    /// <summary>The folder recipe paths and output folders are relative to (the project's).</summary>
    [Required]
    public string ProjectDirectory { get; set; } = "";

    /// <summary>
    /// <c>$(IntermediateOutputPath)</c>: a recipe without <c>OutputDir</c> metadata trains into
    /// <c>&lt;this&gt;/lora/&lt;adapter name&gt;/</c> (<see cref="AdapterNames"/>).
    /// </summary>
    public string IntermediateDirectory { get; set; } = "";

    /// <summary>
    /// <c>LoraOverrides</c>: <c>key.path=value;…</c> applied to every recipe after its own <c>Overrides</c> metadata
    /// (e.g. <c>-p:LoraOverrides=training.max_steps=2</c> for a quick smoke build); part of the fingerprint.
    /// </summary>
    public string? Overrides { get; set; }

    /// <summary><c>LoraDevice</c>: replaces <c>training.device</c> (and so takes part in the fingerprint); empty keeps the recipe's.</summary>
    public string? Device { get; set; }

    /// <summary>The trainer that will run; its <c>LoraRecipes.dll</c> gives the versions in the fingerprint.</summary>
    public string? TrainerPath { get; set; }

    /// <summary>Overrides the trainer version read beside <see cref="TrainerPath"/>.</summary>
    public string? ToolVersion { get; set; }

    /// <summary>Overrides the builtin-model version read beside <see cref="TrainerPath"/>.</summary>
    public string? BuiltinModelVersion { get; set; }

    /// <summary>
    /// One item per valid recipe (same item spec) with metadata <c>RecipePath</c>, <c>OutputDir</c> (absolute,
    /// trailing slash), <c>ArtifactName</c> (the adapter's name: <c>AdapterName</c> metadata, else the recipe's <c>name</c>), <c>RecipeName</c>, <c>Fingerprint</c>, <c>ShortFingerprint</c>,
    /// <c>UpToDate</c>, plus the input metadata (<c>Overrides</c>, <c>Train</c>).
    /// </summary>
    [Output]
    public ITaskItem[] Plans { get; set; } = [];

    public override bool Execute()
    {
        var versions = ResolveVersions();
        var plans = new List<ITaskItem>();
        var byName = new Dictionary<string, ITaskItem>(StringComparer.Ordinal);
        foreach (var recipe in Recipes)
        {
            if (Plan(recipe, versions) is not { } plan) continue;
            string name = plan.GetMetadata("ArtifactName");
            if (byName.TryGetValue(name, out var first))
            {
                Log.LogError(null, "LORA905", null, recipe.ItemSpec, 0, 0, 0, 0,
                    "Two LoraRecipe items name the adapter '{0}' ({1} and {2}), so both would land in {3}. Rename one recipe's name, or give one item AdapterName=\"…\" metadata.",
                    name, first.ItemSpec, recipe.ItemSpec, AdapterNames.RelativeFolder(name));
                continue;
            }
            byName[name] = plan;
            plans.Add(plan);
        }
        Plans = [.. plans];
        return !Log.HasLoggedErrors;
    }

    private ITaskItem? Plan(ITaskItem recipe, TrainerVersion versions)
    {
        string recipePath = Path.GetFullPath(Path.Combine(ProjectDirectory, recipe.ItemSpec));
        string[] overrides = [.. SplitOverrides(recipe.GetMetadata("Overrides")), .. SplitOverrides(Overrides ?? "")];
        // The name first (the default folder depends on it); a recipe that does not load reports through LoadPlan below.
        var loaded = RecipeLoader.Load(recipePath, overrides);
        if (!loaded.Succeeded)
        {
            foreach (var diagnostic in loaded.Diagnostics) Report(diagnostic, recipe, recipePath);
            return null;
        }
        string name = AdapterNames.For(loaded.Recipe!, recipe.GetMetadata(AdapterNames.NameMetadata));
        if (AdapterNames.Problem(name) is { } problem)
        {
            Log.LogError(null, "LORA904", null, recipe.ItemSpec, 0, 0, 0, 0,
                "{0}: {1}. Fix the recipe's name or the item's {2} metadata.", recipe.ItemSpec, problem, AdapterNames.NameMetadata);
            return null;
        }
        string outputMetadata = recipe.GetMetadata("OutputDir");
        string outputDir = Path.GetFullPath(string.IsNullOrWhiteSpace(outputMetadata)
            ? AdapterNames.FolderIn(Path.Combine(ProjectDirectory, IntermediateDirectory), name)
            : Path.Combine(ProjectDirectory, outputMetadata));
        if (!Path.EndsInDirectorySeparator(outputDir)) outputDir += Path.DirectorySeparatorChar;
        var options = new PlanOptions
        {
            OutputDirOverride = outputDir,
            DeviceOverride = string.IsNullOrWhiteSpace(Device) ? null : Device.Trim(),
            ToolVersion = versions.ToolVersion,
            BuiltinModelVersion = versions.BuiltinModelVersion,
        };
        var result = RecipeLoader.LoadPlan(recipePath, overrides, options);
        foreach (var diagnostic in result.Diagnostics) Report(diagnostic, recipe, recipePath);
        if (!result.Succeeded) return null;

        var plan = result.Plan!;
        bool upToDate = LoraManifest.IsCurrent(outputDir, plan.Fingerprint);
        var item = new TaskItem(recipe);
        item.SetMetadata("Overrides", string.Join(';', overrides));
        item.SetMetadata("RecipePath", recipePath);
        item.SetMetadata("OutputDir", outputDir);
        item.SetMetadata("ArtifactName", name);
        item.SetMetadata("RecipeName", plan.Recipe.Name);
        item.SetMetadata("Fingerprint", plan.Fingerprint);
        item.SetMetadata("ShortFingerprint", plan.Fingerprint[..12]);
        item.SetMetadata("UpToDate", upToDate ? "true" : "false");
        return item;
    }

    /// <summary><c>lora.r=8;training.epochs=1</c> → the <c>--set</c> overrides, in order.</summary>
    internal static string[] SplitOverrides(string metadata) =>
        metadata.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private TrainerVersion ResolveVersions()
    {
        var read = string.IsNullOrEmpty(TrainerPath) ? null : TrainerVersion.ReadBeside(TrainerPath);
        string? tool = string.IsNullOrEmpty(ToolVersion) ? read?.ToolVersion : ToolVersion;
        string? builtin = string.IsNullOrEmpty(BuiltinModelVersion) ? read?.BuiltinModelVersion : BuiltinModelVersion;
        if (tool is null || builtin is null)
        {
            Log.LogWarning(null, "LORA903", null, null, 0, 0, 0, 0,
                "Cannot read the trainer version from {0} beside '{1}'; adapters cannot be proven up to date and will retrain. Set LoraToolVersion and LoraBuiltinModelVersion, or point LoraToolPath at dotnet-lora.dll.",
                TrainerVersion.CoreAssemblyFile, TrainerPath);
        }
        return new TrainerVersion(tool ?? "unknown-" + Guid.NewGuid().ToString("N"), builtin ?? "unknown");
    }

    private void Report(RecipeDiagnostic diagnostic, ITaskItem recipe, string recipePath)
    {
        string file = DisplayPath(diagnostic.File, recipe, recipePath);
        string message = diagnostic.Hint is null ? diagnostic.Message + "." : $"{diagnostic.Message}. {diagnostic.Hint}";
        if (diagnostic.IsError)
            Log.LogError(null, diagnostic.Code, null, file, diagnostic.Line, diagnostic.Column, 0, 0, message);
        else
            Log.LogWarning(null, diagnostic.Code, null, file, diagnostic.Line, diagnostic.Column, 0, 0, message);
    }

    /// <summary>The recipe as the project wrote it; other files relative to the project when inside it.</summary>
    private string DisplayPath(string file, ITaskItem recipe, string recipePath)
    {
        if (!Path.IsPathRooted(file)) return file;   // pseudo-files such as "--set lora.r=8"
        string full = Path.GetFullPath(file);
        if (string.Equals(full, recipePath, StringComparison.Ordinal)) return recipe.ItemSpec;
        string relative = Path.GetRelativePath(ProjectDirectory, full);
        return relative.StartsWith("..", StringComparison.Ordinal) ? full : relative;
    }
}
