namespace LoraRecipes.Tests.Tokenization;

/// <summary>A temporary folder holding tokenizer files written by a test.</summary>
internal sealed class TokenizerFolder : IDisposable
{
    public TokenizerFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lora-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public TokenizerFolder With(string name, string content)
    {
        File.WriteAllText(System.IO.Path.Combine(Path, name), content);
        return this;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
