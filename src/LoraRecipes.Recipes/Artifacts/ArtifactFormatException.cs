namespace LoraRecipes.Recipes.Artifacts;

/// <summary>A file of an artifact folder that exists but cannot be read (invalid JSON, a field of the wrong type).</summary>
public sealed class ArtifactFormatException(string path, string message, Exception? inner = null)
    : Exception($"{path}: {message}", inner)
{
    /// <summary>The file.</summary>
    public string Path { get; } = path;
}
