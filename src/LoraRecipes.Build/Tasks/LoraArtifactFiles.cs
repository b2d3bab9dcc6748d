using LoraRecipes.Recipes.Artifacts;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraRecipes.Build;

/// <summary>
/// The artifact files (<see cref="ArtifactFiles.All"/>) of each folder, whether or not they exist: what <c>dotnet clean</c>
/// deletes from a custom <c>OutputDir</c>. The list lives in one place, the recipe library.
/// </summary>
public sealed class LoraArtifactFiles : Microsoft.Build.Utilities.Task
{
    /// <summary>Artifact folders.</summary>
    [Required]
    public ITaskItem[] Folders { get; set; } = [];

    /// <summary>Each folder's artifact files (full paths).</summary>
    [Output]
    public ITaskItem[] Files { get; set; } = [];

    public override bool Execute()
    {
        Files = Folders.SelectMany(folder => ArtifactFiles.All.Select(name => (ITaskItem)new TaskItem(Path.Combine(folder.GetMetadata("FullPath"), name)))).ToArray();
        return true;
    }
}
