using System.Text.Json;
using LoraRecipes.Models;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary><c>dotnet lora preview</c>: the text, ids and labels of the records as they will train.</summary>
public sealed class PreviewCommandTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string ChatRecipe()
    {
        File.WriteAllText(Path.Combine(_folder.Directory, "chat.jsonl"),
            """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "什么是高血压"}, {"role": "assistant", "content": "血压持续升高。"}]}""" + "\n");
        return _folder.Write("chat.yaml", """
            name: chat
            base_model: builtin:tiny-llama
            data:
              train: chat.jsonl
              format: messages
              prompt_template: model
              max_length: 128
              packing: true
            lora:
              r: 2
            output:
              dir: out
            """);
    }

    [Fact]
    public void Json_gives_the_chat_template_text_its_ids_and_the_assistant_turn_as_labels()
    {
        var (code, output) = CliRunner.Run("preview", ChatRecipe(), "--json");
        Assert.Equal(0, code);
        using var line = JsonDocument.Parse(output.Trim());
        string text = line.RootElement.GetProperty("text").GetString()!;
        int[] ids = line.RootElement.GetProperty("ids").Deserialize<int[]>()!;
        int[] labels = line.RootElement.GetProperty("labels").Deserialize<int[]>()!;

        // The builtin tokenizer's template is ChatML: written out by hand.
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n什么是高血压<|im_end|>\n<|im_start|>assistant\n血压持续升高。<|im_end|>\n", text);
        var tokenizer = TextTokenizer.Load(BuiltinModels.Materialize("tiny-llama"));
        Assert.Equal(tokenizer.Encode(text), ids);
        int[] trained = ids.Where((_, i) => labels[i] != -100).ToArray();
        Assert.Equal("血压持续升高。<|im_end|>", tokenizer.Decode(trained, skipSpecialTokens: false));
        Assert.Equal(tokenizer.Encode("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n什么是高血压<|im_end|>\n<|im_start|>assistant\n").Count,
            Array.FindIndex(labels, l => l != -100));
    }

    [Fact]
    public void Human_view_colours_trained_tokens_and_shows_packing()
    {
        var (code, output) = CliRunner.Run("preview", ChatRecipe(), "--records", "1");
        Assert.Equal(0, code);
        Assert.Contains("record 1 (line 1, template model)", output);
        Assert.Contains("trained", output);
        Assert.Contains("packing (max_length 128)", output);
    }

    [Fact]
    public void Truncation_is_reported()
    {
        var (code, output) = CliRunner.Run("preview", _folder.Recipe, "--records", "1", "--set", "data.max_length=8");
        Assert.Equal(0, code);
        Assert.Contains("cut to max_length 8", output);
    }
}
