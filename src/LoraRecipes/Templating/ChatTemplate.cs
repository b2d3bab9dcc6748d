using LoraRecipes.Templating.Jinja;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Templating;

/// <summary>
/// A tokenizer's own <c>chat_template</c>, rendered as transformers' <c>apply_chat_template</c> renders it: the
/// template sees <c>messages</c>, <c>tools</c>, <c>documents</c>, <c>add_generation_prompt</c>, the tokenizer's
/// special tokens (<c>bos_token</c>, <c>eos_token</c>, …) and any extra variables (e.g. <c>enable_thinking</c>),
/// plus <c>raise_exception</c> and <c>strftime_now</c>. The text it returns is tokenized without added special tokens
/// (the template writes BOS itself where the model wants one).
/// </summary>
public sealed class ChatTemplate
{
    private readonly JinjaTemplate _template;
    private readonly IReadOnlyDictionary<string, object?> _specialTokens;

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="JinjaException">The template has a syntax error (line and column given).</exception>
    public ChatTemplate(string source, IReadOnlyDictionary<string, object?> specialTokens, JinjaLimits? limits = null)
    {
        Source = source;
        _template = JinjaTemplate.Parse(source, limits);
        _specialTokens = specialTokens;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>The tokenizer's template, or null when tokenizer_config.json has none.</summary>
    /// <exception cref="JinjaException">The template has a syntax error.</exception>
    public static ChatTemplate? For(TextTokenizer tokenizer) =>
        string.IsNullOrWhiteSpace(tokenizer.ChatTemplate) ? null : new ChatTemplate(tokenizer.ChatTemplate, tokenizer.SpecialTokensMap);

    /// <summary>A conversation of plain role/content turns as template values.</summary>
    public static List<object?> Messages(IEnumerable<(string Role, string Content)> turns) =>
        turns.Select(t => (object?)new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = t.Role, ["content"] = t.Content }).ToList();

    /// <summary>Renders a conversation (a list of message dicts as <see cref="JinjaJson.FromJson"/> builds them).</summary>
    /// <exception cref="JinjaException">The template fails or refuses the conversation (<c>raise_exception</c>).</exception>
    public string Render(IReadOnlyList<object?> messages, bool addGenerationPrompt, object? tools = null, object? documents = null,
        IReadOnlyDictionary<string, object?>? extra = null) =>
        RenderWithSpans(messages, addGenerationPrompt, tools, documents, extra).Text;

    /// <summary>As <see cref="Render"/>, also giving the ranges inside <c>{% generation %}</c> blocks.</summary>
    public (string Text, IReadOnlyList<(int Start, int End)> GenerationSpans) RenderWithSpans(IReadOnlyList<object?> messages,
        bool addGenerationPrompt, object? tools = null, object? documents = null, IReadOnlyDictionary<string, object?>? extra = null)
    {
        var variables = new Dictionary<string, object?>(_specialTokens, StringComparer.Ordinal)
        {
            // Copies: a template may change what it is given (list.append), and prefixes are rendered repeatedly.
            ["messages"] = messages.ToList(),
            ["tools"] = tools,
            ["documents"] = documents,
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        if (extra is not null)
        {
            foreach ((string name, object? value) in extra) variables[name] = value;
        }
        return _template.RenderWithSpans(variables);
    }
}
