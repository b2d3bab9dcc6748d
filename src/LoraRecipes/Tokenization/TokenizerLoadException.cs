namespace LoraRecipes.Tokenization;

/// <summary>
/// A tokenizer folder could not be loaded: a file is missing, is not valid JSON, or holds something
/// this loader does not support. The message names the file and, where it applies, the JSON path.
/// </summary>
public sealed class TokenizerLoadException : Exception
{
    /// <summary>Creates the exception for <paramref name="file"/>.</summary>
    public TokenizerLoadException(string file, string message, Exception? inner = null)
        : base($"{file}: {message}", inner)
    {
        File = file;
    }

    /// <summary>The file that could not be loaded (or the folder, when no file was found).</summary>
    public string File { get; }
}
