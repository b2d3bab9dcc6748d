using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraRecipes.Build;

/// <summary>
/// After training: one <c>LoraAdapter</c> item per recipe whose artifact folder holds an adapter
/// (metadata: fingerprint, metrics, manifest path, up-to-date flag), and the artifact files with the
/// <c>TargetPath</c> (<c>lora/&lt;adapter name&gt;/&lt;file&gt;</c>, <see cref="AdapterNames"/>) they take in the project output.
/// </summary>
public sealed class LoraCollectAdapters : Microsoft.Build.Utilities.Task
{
    /// <summary>The plans from <see cref="LoraPlanRecipes"/>.</summary>
    [Required]
    public ITaskItem[] Plans { get; set; } = [];

    /// <summary>
    /// The adapter folders (item spec, trailing slash) with metadata <c>Name</c>, <c>RecipeName</c>,
    /// <c>Recipe</c>, <c>Fingerprint</c>, <c>Manifest</c>, <c>UpToDate</c>, <c>TargetDir</c>,
    /// <c>Steps</c> and one entry per final metric (<c>final_validation_loss</c>, …).
    /// </summary>
    [Output]
    public ITaskItem[] Adapters { get; set; } = [];

    /// <summary>The artifact files, each with <c>TargetPath</c> relative to the output folder.</summary>
    [Output]
    public ITaskItem[] Files { get; set; } = [];

    public override bool Execute()
    {
        var adapters = new List<ITaskItem>();
        var files = new List<ITaskItem>();
        foreach (var plan in Plans)
        {
            string folder = plan.GetMetadata("OutputDir");
            var manifest = AdapterManifest.TryRead(folder);
            if (manifest is null || !File.Exists(Path.Combine(folder, ArtifactFiles.AdapterWeights))) continue;

            string targetDir = AdapterNames.RelativeFolder(plan.GetMetadata("ArtifactName"));
            var adapter = new TaskItem(folder);
            adapter.SetMetadata("Name", plan.GetMetadata("ArtifactName"));
            adapter.SetMetadata("RecipeName", plan.GetMetadata("RecipeName"));
            adapter.SetMetadata("Recipe", plan.GetMetadata("RecipePath"));
            adapter.SetMetadata("Fingerprint", manifest.Fingerprint ?? "");
            adapter.SetMetadata("UpToDate", manifest.Fingerprint == plan.GetMetadata("Fingerprint") ? "true" : "false");
            adapter.SetMetadata("Manifest", Path.Combine(folder, ArtifactFiles.Manifest));
            adapter.SetMetadata("TargetDir", targetDir);
            adapter.SetMetadata("Steps", manifest.Steps?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "");
            foreach (var (name, value) in AdapterManifest.Metrics(manifest)) adapter.SetMetadata(name, value);
            adapters.Add(adapter);

            foreach (string name in ArtifactFiles.All.Where(n => File.Exists(Path.Combine(folder, n))))
            {
                var file = new TaskItem(Path.Combine(folder, name));
                file.SetMetadata("TargetPath", targetDir + name);
                file.SetMetadata("LoraAdapter", plan.GetMetadata("ArtifactName"));
                files.Add(file);
            }
        }
        Adapters = [.. adapters];
        Files = [.. files];
        return !Log.HasLoggedErrors;
    }
}
