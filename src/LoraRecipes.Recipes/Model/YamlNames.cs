namespace LoraRecipes.Recipes;

/// <summary>Maps recipe choice spellings (<c>causal-lm</c>, <c>skip_step</c>) to enum members and back.</summary>
public static class YamlNames
{
    /// <summary>The enum member for a YAML spelling (separators ignored, case-insensitive).</summary>
    public static T Parse<T>(string yaml) where T : struct, Enum =>
        Enum.Parse<T>(Normalize(yaml), ignoreCase: true);

    /// <summary>The YAML spelling of an enum member, among <paramref name="allowed"/>.</summary>
    public static string ToYaml<T>(T value, IEnumerable<string> allowed) where T : struct, Enum
    {
        var name = value.ToString();
        return allowed.First(a => string.Equals(Normalize(a), name, StringComparison.OrdinalIgnoreCase));
    }

    private static string Normalize(string yaml) => yaml.Replace("-", "").Replace("_", "");
}
