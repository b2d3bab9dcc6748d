namespace LoraRecipes.Models;

/// <summary>A base model (config, weights or tokenizer) that cannot be loaded; the message says which file and why.</summary>
public sealed class ModelLoadException(string path, string message)
    : Exception($"{path}: {message}")
{
    /// <summary>The file or folder at fault.</summary>
    public string Path { get; } = path;
}
