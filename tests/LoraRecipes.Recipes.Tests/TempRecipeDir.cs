namespace LoraRecipes.Recipes.Tests;

/// <summary>A temporary folder of fixture files, deleted on dispose.</summary>
internal sealed class TempRecipeDir : IDisposable
{
    public const string MinimalRecipe = """
        name: demo
        base_model: builtin:tiny-llama
        data:
          train: data/train.jsonl
        """;

    public TempRecipeDir()
    {
        Root = Path.Combine(Path.GetTempPath(), "lora-recipes-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; private set; }

    /// <summary>Writes <paramref name="content"/> to <paramref name="relativePath"/> and returns the full path.</summary>
    public string Write(string relativePath, string content)
    {
        var path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content.ReplaceLineEndings("\n"));
        return path;
    }

    /// <summary>A recipe plus the training data it names.</summary>
    public string WriteRecipeWithData(string recipe = MinimalRecipe, string name = "recipe.yaml")
    {
        Write("data/train.jsonl", """{"instruction":"hi","input":"","output":"hello"}""" + "\n");
        return Write(name, recipe);
    }

    /// <summary>Moves the whole folder elsewhere (for "moving the folder keeps the fingerprint").</summary>
    public void MoveTo(string newRoot)
    {
        Directory.Move(Root, newRoot);
        Root = newRoot;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
