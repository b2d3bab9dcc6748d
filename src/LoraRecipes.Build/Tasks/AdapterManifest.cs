using System.Globalization;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Build;

/// <summary>What the build reads from an artifact's <see cref="LoraManifest"/>: tolerant (a broken one means "must train").</summary>
internal static class AdapterManifest
{
    /// <summary>The manifest in <paramref name="folder"/>; null when absent or unreadable (treated as "must train").</summary>
    public static LoraManifest? TryRead(string folder)
    {
        try
        {
            return LoraManifest.TryRead(folder);
        }
        catch (Exception ex) when (ex is ArtifactFormatException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The final metrics that were measured, as MSBuild metadata values (round-trip invariant numbers).</summary>
    public static IEnumerable<(string Name, string Value)> Metrics(LoraManifest manifest) =>
        manifest.Metrics.Where(m => m.Value is not null).Select(m => (m.Key, m.Value!.Value.ToString("R", CultureInfo.InvariantCulture)));
}
