using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Templating;
using LoraRecipes.Tests.Tokenization;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Templating;

/// <summary>The assistant-span rule and the labels it gives, checked against spans written out by hand.</summary>
public class AssistantSpansTests
{
    private static readonly TextTokenizer Tokenizer = TextTokenizer.Load(BuiltinModels.Materialize("tiny-llama"));

    private static DataRecord Chat(params (string Role, string Content)[] turns) =>
        new() { RecordNumber = 3, Line = 3, Messages = turns.Select(t => new ChatMessage(t.Role, t.Content)).ToList() };

    /// <summary>The trained tokens, decoded run by run.</summary>
    private static List<string> TrainedRuns(TokenizedExample e)
    {
        var runs = new List<string>();
        var run = new List<int>();
        for (int i = 0; i <= e.Labels.Length; i++)
        {
            if (i < e.Labels.Length && e.Labels[i] != ExampleEncoder.IgnoreIndex) { run.Add(e.InputIds[i]); continue; }
            if (run.Count > 0) runs.Add(Tokenizer.Decode(run, skipSpecialTokens: false));
            run.Clear();
        }
        return runs;
    }

    [Fact]
    public void Builtin_chatml_template_trains_each_assistant_turn_and_its_end_token()
    {
        // The tokenizer's own template (ChatML, as Qwen writes it) through prompt_template: model.
        var formatter = PromptFormatter.For(PromptTemplate.Model, Tokenizer);
        Assert.Equal("model", formatter.Name);
        Assert.Equal("<|im_end|>", formatter.EndOfTurn);
        var record = Chat(("system", "Be brief."), ("user", "什么是高血压"), ("assistant", "血压持续升高。"), ("user", "谢谢"), ("assistant", "不客气"));
        var example = new ExampleEncoder(Tokenizer, formatter, 512, trainOnInputs: false).Encode(record);

        // Written out from the template: every turn is <|im_start|>role\ncontent<|im_end|>\n.
        string expected = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n什么是高血压<|im_end|>\n<|im_start|>assistant\n血压持续升高。<|im_end|>\n"
            + "<|im_start|>user\n谢谢<|im_end|>\n<|im_start|>assistant\n不客气<|im_end|>\n";
        Assert.Equal(Tokenizer.Encode(expected), example.InputIds);
        Assert.Equal(["血压持续升高。<|im_end|>", "不客气<|im_end|>"], TrainedRuns(example));
        Assert.Equal("<|im_start|>user\n谢谢<|im_end|>\n<|im_start|>assistant\n", formatter.FormatConversation(
            [new ChatMessage("user", "谢谢")]));
    }

    [Fact]
    public void Alpaca_records_become_one_user_and_one_assistant_turn()
    {
        var formatter = PromptFormatter.For(PromptTemplate.Model, Tokenizer);
        var record = new DataRecord { RecordNumber = 1, Line = 1, Instruction = "介绍疾病", Input = "高血压", Output = "一种慢性病。" };
        var example = new ExampleEncoder(Tokenizer, formatter, 512, trainOnInputs: false).Encode(record);
        Assert.Equal(["一种慢性病。<|im_end|>"], TrainedRuns(example));
        Assert.Equal("<|im_start|>user\n介绍疾病\n\n高血压<|im_end|>\n<|im_start|>assistant\n", formatter.FormatPrompt("介绍疾病", "高血压"));
    }

    [Fact]
    public void Content_the_template_strips_and_text_after_the_end_token_stay_untrained()
    {
        // Llama-3-like: content trimmed, header before, <|eot_id|> after; a trailing newline after the token is not trained.
        const string template = "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content | trim }}<|eot_id|>\n{% endfor %}"
            + "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}";
        var chat = new ChatTemplate(template, new Dictionary<string, object?> { ["bos_token"] = "<s>" });
        var messages = ChatTemplate.Messages([("user", "q"), ("assistant", "  a b  ")]);
        RenderedChat rendered = AssistantSpans.Find(chat, messages, ["<s>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]);
        Assert.Equal("<s><|start_header_id|>user<|end_header_id|>\n\nq<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|>\n\na b<|eot_id|>\n", rendered.Text);
        var (start, end) = Assert.Single(rendered.Trained);
        Assert.Equal("a b<|eot_id|>", rendered.Text[start..end]);
    }

    [Fact]
    public void Generation_tags_decide_when_the_template_has_them()
    {
        const string template = "{% for m in messages %}[{{ m.role }}]{% if m.role == 'assistant' %}{% generation %}{{ m.content }}</s>{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}";
        var chat = new ChatTemplate(template, new Dictionary<string, object?>());
        RenderedChat rendered = AssistantSpans.Find(chat, ChatTemplate.Messages([("user", "u"), ("assistant", "a")]), ["</s>"]);
        Assert.Equal("[user]u[assistant]a</s>", rendered.Text);
        Assert.Equal([(18, 23)], rendered.Trained);
    }

    [Fact]
    public void A_template_whose_prefix_renders_differently_is_refused_naming_the_record()
    {
        // The header counts the messages, so the conversation before a turn renders differently from the whole.
        const string template = "{{ messages|length }}{% for m in messages %}|{{ m.content }}{% endfor %}{% if add_generation_prompt %}|{% endif %}";
        using var folder = new TokenizerFolder();
        BuiltinTokenizer.WriteTo(folder.Path);
        string config = Path.Combine(folder.Path, "tokenizer_config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        json["chat_template"] = template;
        File.WriteAllText(config, json.ToJsonString());
        var formatter = PromptFormatter.For(PromptTemplate.Model, TextTokenizer.Load(folder.Path));
        var e = Assert.Throws<ChatTemplateException>(() => formatter.RenderChat(Chat(("user", "u"), ("assistant", "a"))));
        Assert.Contains("record 3 (line 3): message 2 (assistant)", e.Message);
    }

    [Fact]
    public void Without_a_chat_template_model_is_refused_and_builtin_formats_still_work()
    {
        using var folder = new TokenizerFolder();
        BuiltinTokenizer.WriteTo(folder.Path);
        string config = Path.Combine(folder.Path, "tokenizer_config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        json.Remove("chat_template");
        File.WriteAllText(config, json.ToJsonString());
        var tokenizer = TextTokenizer.Load(folder.Path);
        Assert.Contains("has none", Assert.Throws<NotSupportedException>(() => PromptFormatter.For(PromptTemplate.Model, tokenizer)).Message);
        Assert.Equal("chatml", PromptFormatter.For(PromptTemplate.ChatMl, tokenizer).Name);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", PromptFormatter.For("chatml").FormatConversation([new ChatMessage("user", "hi")]));
        Assert.Equal("<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            PromptFormatter.For("llama3").FormatConversation([new ChatMessage("user", "hi")]));
    }
}
