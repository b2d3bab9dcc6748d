namespace LoraRecipes.Recipes;

/// <summary>
/// Where a <see cref="Recipe"/> came from: its file, the <c>extends:</c> chain, the overrides, and the
/// position of every value. Not part of the recipe's value: two recipes that train the same thing are
/// equal wherever they were read from.
/// </summary>
public sealed class RecipeOrigin
{
    private readonly IReadOnlyDictionary<string, SourceLocation> _locations;

    /// <summary>Creates an origin.</summary>
    /// <param name="recipePath">The recipe file as given to the loader.</param>
    /// <param name="files">The recipe and the files of its <c>extends:</c> chain, recipe first.</param>
    /// <param name="overrides">The <c>--set</c> overrides, in order.</param>
    /// <param name="locations">Position of each value by dotted key path.</param>
    public RecipeOrigin(string recipePath, IReadOnlyList<string> files, IReadOnlyList<string> overrides,
        IReadOnlyDictionary<string, SourceLocation> locations)
    {
        RecipePath = recipePath;
        Files = files;
        Overrides = overrides;
        _locations = locations;
    }

    /// <summary>The recipe file as given to the loader (may be relative to the current directory).</summary>
    public string RecipePath { get; }

    /// <summary>The recipe's full path.</summary>
    public string FullPath => Path.GetFullPath(RecipePath);

    /// <summary>The folder the recipe's relative paths are resolved against.</summary>
    public string Directory => Path.GetDirectoryName(FullPath) ?? FullPath;

    /// <summary>The recipe and its <c>extends:</c> chain, recipe first.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The <c>--set</c> overrides applied, in order.</summary>
    public IReadOnlyList<string> Overrides { get; }

    /// <summary>An origin for a recipe built in code: no positions, paths relative to <paramref name="recipePath"/>'s folder.</summary>
    public static RecipeOrigin Detached(string recipePath) =>
        new(recipePath, [recipePath], [], new Dictionary<string, SourceLocation>());

    /// <summary>Where the value of <paramref name="keyPath"/> was written; the recipe file itself when unknown (a default).</summary>
    public SourceLocation LocationOf(string keyPath) =>
        _locations.TryGetValue(keyPath, out var at) ? at : new SourceLocation(RecipePath, 1, 1);
}
