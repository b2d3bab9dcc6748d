namespace LoraRecipes.Recipes.Yaml;

/// <summary>
/// The <c>extends:</c> / override merge: maps merge key by key with the overlay winning; anything else
/// (scalars, lists) is replaced whole. Nodes keep their own positions, so a value that came from a base
/// file is still reported in the base file.
/// </summary>
internal static class YamlMerge
{
    /// <summary>Merges <paramref name="overlay"/> over <paramref name="under"/>.</summary>
    /// <param name="under">The base tree.</param>
    /// <param name="overlay">The tree that wins.</param>
    /// <param name="overlayOwnsMaps">True (extends): merged maps take the overlay's position; false (overrides): the base's.</param>
    public static YamlNode Merge(YamlNode under, YamlNode overlay, bool overlayOwnsMaps = true)
    {
        if (under is YamlMapping baseMap && overlay is YamlScalar { IsNull: true })
        {
            return baseMap; // "lora:" left empty in the child changes nothing.
        }

        if (under is not YamlMapping left || overlay is not YamlMapping right)
        {
            return overlay;
        }

        var entries = new List<YamlEntry>();
        foreach (var entry in left.Entries)
        {
            var over = right.Find(entry.Key);
            entries.Add(over is null ? entry : over with { Value = Merge(entry.Value, over.Value, overlayOwnsMaps) });
        }

        entries.AddRange(right.Entries.Where(e => left.Find(e.Key) is null));
        var size = 1 + entries.Sum(e => 1 + e.Value.ExpandedSize);
        return new YamlMapping(overlayOwnsMaps ? right.Location : left.Location, entries, size);
    }

    /// <summary>A copy of <paramref name="map"/> without <paramref name="key"/>.</summary>
    public static YamlMapping Without(YamlMapping map, string key) =>
        new(map.Location, map.Entries.Where(e => e.Key != key).ToList(), map.ExpandedSize);
}
