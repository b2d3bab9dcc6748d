using LoraRecipes.Recipes.Yaml;

namespace LoraRecipes.Recipes.Schema;

/// <summary>
/// Parses <c>--set key.path=value</c> overrides into small YAML trees to merge over the recipe. The
/// value is YAML flow syntax (<c>8</c>, <c>1e-4</c>, <c>[q_proj,k_proj]</c>, <c>["a","b"]</c>). Positions
/// point into a pseudo-file named after the override (<c>--set lora.r=8</c>), column 1 being the key's
/// first character.
/// </summary>
internal static class OverrideParser
{
    /// <summary>The tree for one override, or null (with diagnostics) when it is malformed or names an unknown key.</summary>
    public static YamlMapping? Parse(string text, List<RecipeDiagnostic> diagnostics)
    {
        var file = $"--set {text}";
        var equals = text.IndexOf('=');
        if (equals <= 0)
        {
            diagnostics.Add(RecipeDiagnostic.Error(new SourceLocation(file, 1, 1), RecipeErrorCodes.InvalidOverride,
                $"Override '{text}' is not of the form key.path=value", "Write for example --set lora.r=8."));
            return null;
        }

        var keyPath = text[..equals].Trim();
        if (!CheckPath(keyPath, file, diagnostics))
        {
            return null;
        }

        var valueText = text[(equals + 1)..];
        var value = valueText.Trim().Length == 0
            ? new YamlScalar(new SourceLocation(file, 1, equals + 2), "", isPlain: true)
            : YamlReader.ReadDocument(valueText, file, diagnostics, lineOffset: 0, columnOffset: equals + 1);
        if (value is null)
        {
            return null;
        }

        return Nest(keyPath, value, file);
    }

    private static bool CheckPath(string keyPath, string file, List<RecipeDiagnostic> diagnostics)
    {
        var segments = keyPath.Split('.');
        var section = "";
        var column = 1;
        foreach (var segment in segments)
        {
            var path = section.Length == 0 ? segment : $"{section}.{segment}";
            var entry = RecipeSchema.Find(path);
            if (entry is null || path == "extends")
            {
                var candidates = RecipeSchema.ChildrenOf(section).Select(e => e.Key).Where(k => k != "extends");
                var hint = entry is null
                    ? $"{Suggestions.DidYouMean(segment, candidates)}Known keys{(section.Length == 0 ? "" : $" in {section}")}: {string.Join(", ", candidates)}."
                    : "extends cannot be overridden; --set is applied after the extends chain is merged.";
                diagnostics.Add(RecipeDiagnostic.Error(new SourceLocation(file, 1, column),
                    entry is null ? RecipeErrorCodes.UnknownOverridePath : RecipeErrorCodes.InvalidOverride,
                    $"Override names unknown key '{path}'", hint));
                return false;
            }

            section = path;
            column += segment.Length + 1;
        }

        return true;
    }

    // "lora.r" + 8 → { lora: { r: 8 } }, each key positioned at its segment in the override text.
    private static YamlMapping Nest(string keyPath, YamlNode value, string file)
    {
        var segments = keyPath.Split('.');
        var columns = new int[segments.Length];
        for (int i = 0, column = 1; i < segments.Length; column += segments[i].Length + 1, i++)
        {
            columns[i] = column;
        }

        YamlNode node = value;
        for (var i = segments.Length - 1; i >= 0; i--)
        {
            var at = new SourceLocation(file, 1, columns[i]);
            node = new YamlMapping(at, [new YamlEntry(segments[i], at, node)], 1 + node.ExpandedSize);
        }

        return (YamlMapping)node;
    }
}
