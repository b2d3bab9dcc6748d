using Spectre.Console.Testing;

namespace LoraRecipes.Cli.Tests;

/// <summary>Runs <c>dotnet lora</c> in-process against a test console.</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Output) Run(params string[] args)
    {
        var console = new TestConsole().Width(200);
        int code = LoraCli.Run(args, console);
        return (code, console.Output);
    }
}

/// <summary>A temp folder with a valid tiny recipe and data.</summary>
internal sealed class RecipeFolder : IDisposable
{
    public RecipeFolder()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("lora-cli-").FullName;
        var records = Enumerable.Range(0, 12).Select(i => $"{{\"instruction\": \"Explain\", \"input\": \"item {i}\", \"output\": \"Answer number {i}.\"}}");
        File.WriteAllLines(Path.Combine(Directory, "data.jsonl"), records);
        Recipe = Write("tiny.yaml", """
            name: tiny
            base_model: builtin:tiny-llama
            data:
              train: data.jsonl
              validation_split: 0.25
              max_length: 128
            lora:
              r: 2
              target_modules: [q_proj, v_proj]
            training:
              max_steps: 2
              batch_size: 4
              threads: 2
            evaluation:
              samples: ["Explain item 1"]
            output:
              dir: out
            """);
    }

    public string Directory { get; }
    public string Recipe { get; }

    public string Write(string name, string text)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
