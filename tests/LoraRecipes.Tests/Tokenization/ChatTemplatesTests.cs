using LoraRecipes.Data;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Tokenization;

public class ChatTemplatesTests
{
    // Excerpts of the shipped templates (Qwen 3, Llama 3, Gemma 3).
    private const string Qwen = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}";
    private const string QwenIndexed = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";
    private const string Llama3 = "{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}";
    private const string Gemma = "{{ bos_token }}{% for message in loop_messages %}{{ '<start_of_turn>' + role + '\n' + (message['content'] | trim) + '<end_of_turn>\n' }}{% endfor %}";

    [Theory]
    [InlineData(Qwen, "chatml")]
    [InlineData(QwenIndexed, "chatml")]
    [InlineData(Llama3, "llama3")]
    [InlineData(Gemma, null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void Recognises_known_shapes(string? template, string? expected) => Assert.Equal(expected, ChatTemplates.KnownTemplate(template));

    [Fact]
    public void Prompt_template_model_resolves_through_the_tokenizer()
    {
        using var folder = new TokenizerFolder();
        BuiltinTokenizer.WriteTo(folder.Path);
        string configPath = Path.Combine(folder.Path, "tokenizer_config.json");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();

        config["chat_template"] = Qwen;
        File.WriteAllText(configPath, config.ToJsonString());
        Assert.Equal("chatml", PromptFormatter.For(PromptTemplate.Model, TextTokenizer.Load(folder.Path)).Name);

        config["chat_template"] = Gemma;
        File.WriteAllText(configPath, config.ToJsonString());
        var e = Assert.Throws<NotSupportedException>(() => PromptFormatter.For(PromptTemplate.Model, TextTokenizer.Load(folder.Path)));
        Assert.Contains("not one of the shapes", e.Message);

        Assert.Equal("alpaca", PromptFormatter.For(PromptTemplate.Alpaca, TextTokenizer.Load(folder.Path)).Name);
    }
}
