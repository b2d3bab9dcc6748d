using LoraRecipes.Recipes.Schema;
using LoraRecipes.Recipes.Yaml;

namespace LoraRecipes.Recipes;

/// <summary>
/// Entry point: reads a recipe and its <c>extends:</c> chain, applies <c>--set</c> overrides, validates
/// and fills every default. Never throws for user errors (missing files, bad YAML, invalid values):
/// those come back as <see cref="RecipeDiagnostic"/>s. Reads no files other than the recipe chain
/// (and, for <see cref="LoadPlan"/>, the inputs it hashes).
/// </summary>
public static class RecipeLoader
{
    /// <summary>Loads, merges, overrides and validates the recipe at <paramref name="path"/>.</summary>
    /// <param name="path">The recipe file; diagnostics name it as given.</param>
    /// <param name="overrides"><c>key.path=value</c> overrides, applied in order after <c>extends:</c>.</param>
    public static RecipeLoadResult Load(string path, IReadOnlyList<string>? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        overrides ??= [];
        var diagnostics = new List<RecipeDiagnostic>();
        var files = new List<string>();
        var root = LoadChain(path, referencedFrom: null, files, diagnostics);
        if (root is null)
        {
            return new RecipeLoadResult(null, diagnostics);
        }

        foreach (var text in overrides)
        {
            if (OverrideParser.Parse(text, diagnostics) is { } overlay)
            {
                root = YamlMerge.Merge(root, overlay, overlayOwnsMaps: false);
            }
        }

        var binder = RecipeBinder.Bind(root, diagnostics);
        if (diagnostics.Any(d => d.IsError))
        {
            return new RecipeLoadResult(null, diagnostics);
        }

        var origin = new RecipeOrigin(path, files, overrides.ToArray(), binder.Locations);
        return new RecipeLoadResult(RecipeFactory.Create(binder.Values, origin), diagnostics);
    }

    /// <summary><see cref="Load"/> then <see cref="TrainingPlan.Resolve"/>, with the diagnostics of both.</summary>
    public static PlanResult LoadPlan(string path, IReadOnlyList<string>? overrides, PlanOptions options)
    {
        var loaded = Load(path, overrides);
        if (loaded.Recipe is null)
        {
            return new PlanResult(null, loaded.Diagnostics);
        }

        var planned = TrainingPlan.Resolve(loaded.Recipe, options);
        return planned with { Diagnostics = [.. loaded.Diagnostics, .. planned.Diagnostics] };
    }

    // Reads one file and, recursively, the file it extends; returns the merged tree without 'extends'.
    private static YamlNode? LoadChain(string path, SourceLocation? referencedFrom, List<string> files, List<RecipeDiagnostic> diagnostics)
    {
        var fullPath = Path.GetFullPath(path);
        if (files.Any(f => PathsEqual(Path.GetFullPath(f), fullPath)))
        {
            var chain = string.Join(" -> ", files.Append(path));
            diagnostics.Add(RecipeDiagnostic.Error(referencedFrom!.Value, RecipeErrorCodes.ExtendsCycle,
                $"extends cycle: {chain}", "Remove one of the extends: so the chain ends in a recipe without one."));
            return null;
        }

        files.Add(path);
        var node = YamlReader.ReadFile(fullPath, path, referencedFrom, diagnostics);
        if (node is not YamlMapping map || map.Find("extends") is not { } extends)
        {
            return node;
        }

        var rest = YamlMerge.Without(map, "extends");
        switch (extends.Value)
        {
            case YamlScalar { IsNull: true }:
                return rest;
            case YamlScalar { Value.Length: > 0 } target:
                var basePath = Path.Combine(Path.GetDirectoryName(path) ?? "", target.Value);
                var under = LoadChain(basePath, target.Location, files, diagnostics);
                return under is null ? null : YamlMerge.Merge(under, rest);
            default:
                diagnostics.Add(RecipeDiagnostic.Error(extends.Value.Location, RecipeErrorCodes.WrongType,
                    $"extends must be a file path, got {extends.Value.Describe()}", "Write extends: base.yaml (relative to this recipe)."));
                return rest;
        }
    }

    private static bool PathsEqual(string a, string b) =>
        string.Equals(a, b, OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);
}
