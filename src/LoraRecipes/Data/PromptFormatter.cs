using System.Text;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Data;

/// <summary>A piece of formatted text and whether its tokens count in the loss.</summary>
public readonly record struct Segment(string Text, bool Trained);

/// <summary>
/// Turns records into text segments for one prompt format. The response (and its end-of-turn
/// marker) is trained; the prompt is masked unless <c>train_on_inputs</c>.
/// </summary>
public sealed class PromptFormatter
{
    private const string AlpacaWithInput =
        "Below is an instruction that describes a task, paired with an input that provides further context. " +
        "Write a response that appropriately completes the request.\n\n### Instruction:\n{0}\n\n### Input:\n{1}\n\n### Response:\n";
    private const string AlpacaNoInput =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
        "### Instruction:\n{0}\n\n### Response:\n";

    private PromptFormatter(PromptTemplate template, string name) => (Template, Name) = (template, name);

    /// <summary>The recipe's template.</summary>
    public PromptTemplate Template { get; }

    /// <summary>alpaca, chatml, llama3 or plain.</summary>
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
    /// The formatter for a recipe's <c>prompt_template</c>, resolving <c>model</c> through the tokenizer's chat_template
    /// when it has a known shape (<see cref="ChatTemplates.KnownTemplate"/>: ChatML, Llama 3).
    /// </summary>
    /// <exception cref="NotSupportedException"><c>model</c>, and the chat_template is absent or of an unknown shape.</exception>
    public static PromptFormatter For(PromptTemplate template, TextTokenizer tokenizer)
    {
        if (template != PromptTemplate.Model) return For(template);
        return ChatTemplates.KnownTemplate(tokenizer.ChatTemplate) is { } name
            ? new(template, name)
            : throw new NotSupportedException(ChatTemplates.Unsupported(tokenizer.ChatTemplate));
    }

    /// <summary>The formatter for a template name as a recipe spells it (alpaca, chatml, llama3, plain).</summary>
    public static PromptFormatter For(string name) => Known.Contains(name)
        ? For(YamlNames.Parse<PromptTemplate>(name))
        : throw new ArgumentException($"unknown prompt template '{name}'; use one of: {string.Join(", ", Known)}.");

    /// <summary>The untrained prompt for an instruction (what generation starts from).</summary>
    public string FormatPrompt(string instruction, string input = "") =>
        Segments(new DataRecord { RecordNumber = 0, Line = 0, Instruction = instruction, Input = input, Output = "" })
            .Where(s => !s.Trained).Aggregate(new StringBuilder(), (b, s) => b.Append(s.Text)).ToString();

    /// <summary>The end-of-turn marker the model emits after a response ("" when only EOS ends it).</summary>
    public string EndOfTurn => Name switch { "chatml" => "<|im_end|>", "llama3" => "<|eot_id|>", _ => "" };

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
