using LoraRecipes.Artifacts;
using LoraRecipes.Recipes;

namespace LoraRecipes.Runtime;

public sealed partial class LoraModel
{
    /// <summary>
    /// The adapters a build put beside the application: the names in <c>&lt;app folder&gt;/lora/adapters.txt</c>, which
    /// the build writes from the project's <c>&lt;LoraRecipe&gt;</c> items (<see cref="AdapterNames.ListFile"/>).
    /// </summary>
    /// <exception cref="AdapterLoadException">The list is missing (no <c>&lt;LoraRecipe&gt;</c> build copied adapters here).</exception>
    public static IReadOnlyList<string> BuiltAdapters(string? appFolder = null)
    {
        string root = Path.Combine(appFolder ?? AppContext.BaseDirectory, AdapterNames.OutputFolder);
        string list = Path.Combine(root, AdapterNames.ListFile);
        if (!File.Exists(list))
            throw new AdapterLoadException(list, "not found: build the project first (dotnet build trains the <LoraRecipe> items and writes this list of their adapters).");
        return File.ReadAllLines(list).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
    }

    /// <summary>
    /// Loads the base once and every adapter the build produced (<see cref="BuiltAdapters"/>) over it, each selected by
    /// its name (the recipe's <c>name</c> or the item's <c>AdapterName</c>); the first is the default.
    /// </summary>
    /// <exception cref="AdapterLoadException">No adapter list or no adapter in it, or adapters of different bases or tasks (the message names the folder).</exception>
    /// <param name="device"><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c>.</param>
    /// <param name="appFolder">The folder holding <c>lora/</c>; default: the application's.</param>
    public static LoraModel LoadAllBuilt(string device = "cpu", string? appFolder = null)
    {
        var names = BuiltAdapters(appFolder);
        if (names.Count == 0)
            throw new AdapterLoadException(Path.Combine(appFolder ?? AppContext.BaseDirectory, AdapterNames.OutputFolder, AdapterNames.ListFile),
                "lists no adapter: the project's <LoraRecipe> items have not been trained (LoraTrainOnBuild=false, or Train=false).");
        return LoadBuilt(names, device, appFolder);
    }

    /// <summary>Loads the base once and the built adapters named <paramref name="names"/> over it (<see cref="BuiltFolder"/>); the first is the default.</summary>
    /// <exception cref="AdapterLoadException">A name has no adapter beside the application (the message lists those there), or the adapters do not share a base and task.</exception>
    /// <param name="names">Adapter names, e.g. <c>["medical-qa", "legal-qa"]</c>.</param>
    /// <param name="device"><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c>.</param>
    /// <param name="appFolder">The folder holding <c>lora/</c>; default: the application's.</param>
    public static LoraModel LoadBuilt(IEnumerable<string> names, string device = "cpu", string? appFolder = null)
    {
        ArgumentNullException.ThrowIfNull(names);
        var folders = new List<(string?, string)>();
        foreach (string name in names)
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            string folder = BuiltFolder(name, appFolder);
            if (!File.Exists(Path.Combine(folder, Recipes.Artifacts.ArtifactFiles.AdapterConfig))) throw NoBuiltAdapter(name, folder);
            folders.Add((name, folder));
        }
        return Open(null, folders, merge: false, device);
    }
}
