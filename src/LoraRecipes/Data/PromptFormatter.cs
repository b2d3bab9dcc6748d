using System.Text;
using LoraRecipes.Recipes;
using LoraRecipes.Templating;
using LoraRecipes.Templating.Jinja;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Data;

/// <summary>A piece of formatted text and whether its tokens count in the loss.</summary>
public readonly record struct Segment(string Text, bool Trained);

/// <summary>
/// Turns records into text segments for one prompt format. The response (and its end-of-turn
/// marker) is trained; the prompt is masked unless <c>train_on_inputs</c>. With <c>prompt_template: model</c>
/// the tokenizer's own chat template renders the conversation (<see cref="RenderChat"/>) and
/// <see cref="AssistantSpans"/> finds what trains.
/// </summary>
public sealed class PromptFormatter
{
    private const string AlpacaWithInput =
        "Below is an instruction that describes a task, paired with an input that provides further context. " +
        "Write a response that appropriately completes the request.\n\n### Instruction:\n{0}\n\n### Input:\n{1}\n\n### Response:\n";
    private const string AlpacaNoInput =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
        "### Instruction:\n{0}\n\n### Response:\n";

    private string? _endOfTurn;

    private PromptFormatter(PromptTemplate template, string name, ChatTemplate? model = null, IReadOnlyCollection<string>? specialTokens = null) =>
        (Template, Name, Model, SpecialTokens) = (template, name, model, specialTokens ?? []);

    /// <summary>The tokenizer's chat template, for <c>prompt_template: model</c>; null for the built-in formats.</summary>
    public ChatTemplate? Model { get; }

    /// <summary>The tokenizer's special tokens (where an assistant turn ends, for <see cref="AssistantSpans"/>).</summary>
    public IReadOnlyCollection<string> SpecialTokens { get; }

    /// <summary>The recipe's template.</summary>
    public PromptTemplate Template { get; }

    /// <summary>alpaca, chatml, llama3, plain, or model (the tokenizer's chat template).</summary>
    public string Name { get; }

    /// <summary>The templates this build knows.</summary>
    public static IReadOnlyList<string> Known { get; } = new[] { "alpaca", "chatml", "llama3", "plain" };

    /// <summary>The formatter for a recipe's <c>prompt_template</c>.</summary>
    public static PromptFormatter For(PromptTemplate template) => template switch
    {
        PromptTemplate.Alpaca => new(template, "alpaca"),
        PromptTemplate.ChatMl => new(template, "chatml"),
        PromptTemplate.Llama3 => new(template, "llama3"),
        PromptTemplate.Plain => new(template, "plain"),
        _ => throw new NotSupportedException("prompt_template: model needs the tokenizer: use PromptFormatter.For(template, tokenizer)."),
    };

    /// <summary>
    /// The formatter for a recipe's <c>prompt_template</c>; <c>model</c> renders the tokenizer's chat_template.
    /// </summary>
    /// <exception cref="NotSupportedException"><c>model</c>, and tokenizer_config.json has no chat_template.</exception>
    /// <exception cref="JinjaException"><c>model</c>, and the chat_template has a syntax error.</exception>
    public static PromptFormatter For(PromptTemplate template, TextTokenizer tokenizer)
    {
        if (template != PromptTemplate.Model) return For(template);
        ChatTemplate chat = ChatTemplate.For(tokenizer) ?? throw new NotSupportedException(
            "prompt_template: model needs the tokenizer's chat_template, and tokenizer_config.json has none; use alpaca, chatml, llama3 or plain.");
        string[] special = tokenizer.SpecialIds.Select(tokenizer.IdToToken).OfType<string>().ToArray();
        return new(template, "model", chat, special);
    }

    /// <summary>As <see cref="For(string)"/>, also accepting <c>model</c> (the tokenizer's chat template).</summary>
    public static PromptFormatter For(string name, TextTokenizer tokenizer) =>
        name == "model" ? For(PromptTemplate.Model, tokenizer) : For(name);

    /// <summary>The formatter for a template name as a recipe spells it (alpaca, chatml, llama3, plain).</summary>
    public static PromptFormatter For(string name) => Known.Contains(name)
        ? For(YamlNames.Parse<PromptTemplate>(name))
        : throw new ArgumentException($"unknown prompt template '{name}'; use one of: {string.Join(", ", Known)}.");

    /// <summary>The untrained prompt for an instruction (what generation starts from).</summary>
    public string FormatPrompt(string instruction, string input = "") => Model is not null
        ? FormatConversation([new ChatMessage("user", input.Length == 0 ? instruction : instruction + "\n\n" + input)])
        : Segments(new DataRecord { RecordNumber = 0, Line = 0, Instruction = instruction, Input = input, Output = "" })
            .Where(s => !s.Trained).Aggregate(new StringBuilder(), (b, s) => b.Append(s.Text)).ToString();

    /// <summary>
    /// A conversation so far, ending with a user turn, as the prompt the model answers: the chat template with
    /// <c>add_generation_prompt=True</c>, or the built-in format's turns followed by the response header.
    /// </summary>
    public string FormatConversation(IReadOnlyList<ChatMessage> history)
    {
        if (Model is not null) return Model.Render(ChatTemplate.Messages(history.Select(m => (m.Role, m.Content))), addGenerationPrompt: true);
        // Everything before the (empty) reply: the turns and the response header.
        var segments = Chat([.. history, new ChatMessage("assistant", "")]);
        int reply = segments.Count - 1;
        while (reply >= 0 && !segments[reply].Trained) reply--;
        return string.Concat(segments.Take(Math.Max(reply, 0)).Select(s => s.Text));
    }

    /// <summary>The end-of-turn marker the model emits after a response ("" when only EOS ends it).</summary>
    public string EndOfTurn => _endOfTurn ??= Name switch
    {
        "chatml" => "<|im_end|>",
        "llama3" => "<|eot_id|>",
        "model" => ModelEndOfTurn(),
        _ => "",
    };

    /// <summary>The special token that ends an assistant turn in the chat template (found on a probe conversation).</summary>
    private string ModelEndOfTurn()
    {
        try
        {
            RenderedChat probe = AssistantSpans.Find(Model!, ChatTemplate.Messages([("user", "Hi"), ("assistant", "Hello")]), SpecialTokens);
            if (probe.Trained is not [.., var last]) return "";
            string turn = probe.Text[last.Start..last.End];
            return SpecialTokens.Where(t => t.Length > 0 && turn.EndsWith(t, StringComparison.Ordinal)).MaxBy(t => t.Length) ?? "";
        }
        catch (Exception ex) when (ex is JinjaException or ChatTemplateException)
        {
            return "";
        }
    }

    /// <summary>
    /// <c>prompt_template: model</c>: the record rendered by the tokenizer's chat template (alpaca records as one user
    /// and one assistant turn) with the ranges that train, by the rule of <see cref="AssistantSpans"/>.
    /// </summary>
    /// <exception cref="ChatTemplateException">The template fails on this record; the message names the record.</exception>
    public RenderedChat RenderChat(DataRecord record)
    {
        if (Model is null) throw new InvalidOperationException("RenderChat needs prompt_template: model.");
        IReadOnlyList<ChatMessage> messages = record.Messages ?? [
            new ChatMessage("user", record.Input.Length == 0 ? record.Instruction : record.Instruction + "\n\n" + record.Input),
            new ChatMessage("assistant", record.Output)];
        try
        {
            return AssistantSpans.Find(Model, ChatTemplate.Messages(messages.Select(m => (m.Role, m.Content))), SpecialTokens);
        }
        catch (Exception ex) when (ex is JinjaException or ChatTemplateException)
        {
            throw new ChatTemplateException($"record {record.RecordNumber} (line {record.Line}): {ex.Message}");
        }
    }

    /// <summary>The record as prompt and response segments, in order.</summary>
    public IReadOnlyList<Segment> Segments(DataRecord record)
    {
        if (record.Text is { } text) return new[] { new Segment(text, true) };
        if (record.Messages is { } messages) return Chat(messages);
        string user = record.Input.Length == 0 ? record.Instruction : record.Instruction + "\n\n" + record.Input;
        return Name switch
        {
            "alpaca" => new[]
            {
                new Segment(record.Input.Length == 0 ? string.Format(AlpacaNoInput, record.Instruction) : string.Format(AlpacaWithInput, record.Instruction, record.Input), false),
                new Segment(record.Output, true),
            },
            "plain" => new[] { new Segment(user + "\n", false), new Segment(record.Output, true) },
            _ => Chat(new[] { new ChatMessage("user", user), new ChatMessage("assistant", record.Output) }),
        };
    }

    private IReadOnlyList<Segment> Chat(IReadOnlyList<ChatMessage> messages)
    {
        var segments = new List<Segment>();
        foreach (var m in messages)
        {
            bool assistant = m.Role == "assistant";
            switch (Name)
            {
                case "chatml":
                    segments.Add(new Segment($"<|im_start|>{m.Role}\n", false));
                    segments.Add(new Segment(m.Content + "<|im_end|>", assistant));
                    segments.Add(new Segment("\n", false));
                    break;
                case "llama3":
                    segments.Add(new Segment($"<|start_header_id|>{m.Role}<|end_header_id|>\n\n", false));
                    segments.Add(new Segment(m.Content + "<|eot_id|>", assistant));
                    break;
                case "alpaca":
                    segments.Add(new Segment(assistant ? "### Response:\n" : m.Role == "system" ? "" : "### Instruction:\n", false));
                    segments.Add(new Segment(m.Content, assistant));
                    segments.Add(new Segment("\n\n", false));
                    break;
                default:
                    segments.Add(new Segment(m.Content, assistant));
                    segments.Add(new Segment("\n", false));
                    break;
            }
        }
        // Nothing follows the final response: EOS is appended by the encoder, trained.
        while (segments.Count > 0 && !segments[^1].Trained) segments.RemoveAt(segments.Count - 1);
        return segments;
    }
}
