using System.Diagnostics;
using System.Text.Json;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Tokenization;

/// <summary>
/// Compares our ids with Hugging Face's independent JS implementation (@huggingface/tokenizers), on Llama 3's
/// real tokenizer files and on the builtin tokenizer. Needs Reference/fetch.sh to have run; skipped otherwise.
/// </summary>
public class ReferenceTokenizerTests
{
    private static readonly string[] Texts =
    [
        "Hello world",
        "请介绍一下什么是高血压",
        "患者血压 150/95 mmHg，建议两周后复查。",
        "It's what they'd've SAID, isn't it? I'LL see.",
        "tabs\tand\r\nwindows\r\nlines\n\n\nand   runs   of  spaces\n  ",
        "emoji 😀👍🏽 and flags 🇨🇳 ok",
        "1234567890 3.14159 -42 1e-5 ½",
        "Việt Nam, naïve café, Ελληνικά, русский",
        "<|begin_of_text|>user text<|eot_id|> trailing",
        "def f(x):\n    return x ** 2  # square\n",
    ];

    [ReferenceFact]
    public void Llama3_ids_match_huggingface() =>
        AssertSameIds(Path.Combine(ReferenceFactAttribute.Directory, "node_modules", "@lenml", "tokenizer-llama3", "models"));

    [ReferenceFact]
    public void Builtin_ids_match_huggingface()
    {
        using var folder = new TokenizerFolder();
        BuiltinTokenizer.WriteTo(folder.Path);
        AssertSameIds(folder.Path);
    }

    private static void AssertSameIds(string tokenizerFolder)
    {
        TextTokenizer ours = TextTokenizer.Load(tokenizerFolder);
        int[][] theirs = RunReference(tokenizerFolder);
        for (int i = 0; i < Texts.Length; i++)
            Assert.True(theirs[i].SequenceEqual(ours.Encode(Texts[i])), $"text {i} {JsonSerializer.Serialize(Texts[i])}: HF [{string.Join(",", theirs[i])}] ours [{string.Join(",", ours.Encode(Texts[i]))}]");
    }

    private static int[][] RunReference(string tokenizerFolder)
    {
        string inputs = Path.GetTempFileName();
        try
        {
            File.WriteAllText(inputs, JsonSerializer.Serialize(Texts));
            var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(ReferenceFactAttribute.Directory, "encode.mjs"));
            start.ArgumentList.Add(tokenizerFolder);
            start.ArgumentList.Add(inputs);
            using Process node = Process.Start(start)!;
            string output = node.StandardOutput.ReadToEnd();
            string errors = node.StandardError.ReadToEnd();
            node.WaitForExit();
            Assert.True(node.ExitCode == 0, errors);
            return JsonSerializer.Deserialize<int[][]>(output)!;
        }
        finally
        {
            File.Delete(inputs);
        }
    }
}

/// <summary>A fact that is skipped, saying how to enable it, when the npm reference tokenizers are not installed.</summary>
public sealed class ReferenceFactAttribute : FactAttribute
{
    public static readonly string Directory =
        Environment.GetEnvironmentVariable("LORA_TOKENIZER_REFERENCE")
        ?? Path.Combine(Path.GetTempPath(), "lorarecipes-tokenizer-reference");

    public ReferenceFactAttribute()
    {
        bool installed = File.Exists(Path.Combine(Directory, "encode.mjs"))
            && System.IO.Directory.Exists(Path.Combine(Directory, "node_modules", "@lenml", "tokenizer-llama3"));
        if (!installed)
            Skip = $"reference tokenizers not installed in {Directory}: run tests/LoraRecipes.Tests/Tokenization/Reference/fetch.sh";
    }
}
