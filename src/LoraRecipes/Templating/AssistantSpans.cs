using LoraRecipes.Templating.Jinja;

namespace LoraRecipes.Templating;

/// <summary>A rendered conversation and the [Start, End) character ranges of it that are trained.</summary>
public sealed record RenderedChat(string Text, IReadOnlyList<(int Start, int End)> Trained);

/// <summary>
/// Finds the text of each assistant turn in a conversation rendered by the model's own chat template — the part
/// the model must learn to produce. The rule (documented in docs/chat-templates.md):
/// <list type="number">
/// <item>The training text is the whole conversation rendered once, <c>add_generation_prompt=False</c>, exactly as
/// <c>apply_chat_template</c> renders it.</item>
/// <item>If the template marks assistant text with <c>{% generation %}</c> blocks, those ranges are the turns
/// (transformers' <c>return_assistant_tokens_mask</c> rule) and nothing else applies.</item>
/// <item>Otherwise, as TRL and axolotl find assistant spans by rendering prefixes: turn <c>i</c> starts where the
/// rendering of the messages before it with <c>add_generation_prompt=True</c> ends (that prompt is what the model
/// sees at inference), which must be a prefix of the whole text.</item>
/// <item>The turn's content ends where the whole text changes when a marker is appended to the turn's content.</item>
/// <item>The turn ends after the first special token at or after the end of its content (<c>&lt;|im_end|&gt;</c>,
/// <c>&lt;|eot_id|&gt;</c>, <c>&lt;end_of_turn&gt;</c>, EOS…): the model must learn to emit it to stop. Text between
/// that token and the next turn (a newline) is not trained; without such a token the turn ends with its content.</item>
/// </list>
/// Reasoning blocks the template writes into the turn (Qwen 3's <c>&lt;think&gt;…&lt;/think&gt;</c>) lie between the
/// generation prompt and the content, so they are trained, as the model generates them.
/// </summary>
public static class AssistantSpans
{
    // A private-use character: not whitespace (strip/trim keep it), never in real data.
    private const string Marker = "\uE000";

    /// <summary>Renders <paramref name="messages"/> and finds the trained ranges of its assistant turns.</summary>
    /// <exception cref="JinjaException">The template fails or refuses the conversation (<c>raise_exception</c>).</exception>
    /// <exception cref="ChatTemplateException">The template renders a prefix of the conversation differently from the whole.</exception>
    public static RenderedChat Find(ChatTemplate template, IReadOnlyList<object?> messages, IReadOnlyCollection<string> specialTokens,
        object? tools = null, IReadOnlyDictionary<string, object?>? extra = null)
    {
        (string text, var generation) = template.RenderWithSpans(messages, addGenerationPrompt: false, tools, extra: extra);
        if (generation.Count > 0) return new RenderedChat(text, generation.Where(s => s.End > s.Start).ToList());

        var spans = new List<(int, int)>();
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not Dictionary<string, object?> m || !Equals(m.GetValueOrDefault("role"), "assistant")) continue;
            string prompt = template.Render(messages.Take(i).ToList(), addGenerationPrompt: true, tools, extra: extra);
            if (!text.StartsWith(prompt, StringComparison.Ordinal))
                throw new ChatTemplateException($"message {i + 1} (assistant): the template renders the conversation before this turn, with "
                    + "add_generation_prompt, differently from the start of the whole conversation, so the turn's start cannot be found; "
                    + "use a built-in prompt_template (chatml, llama3, alpaca, plain) or a template whose earlier turns do not depend on later ones");
            int start = prompt.Length;
            int contentEnd = ContentEnd(template, messages, i, text, start, tools, extra);
            int end = contentEnd;
            int best = int.MaxValue;
            foreach (string token in specialTokens)
            {
                int at = token.Length == 0 ? -1 : text.IndexOf(token, contentEnd, StringComparison.Ordinal);
                if (at >= 0 && at < best) (best, end) = (at, at + token.Length);
            }
            if (end > start) spans.Add((start, end));
        }
        return new RenderedChat(text, spans);
    }

    /// <summary>Where turn <paramref name="i"/>'s content ends in <paramref name="text"/>: the first character that changes when a marker is appended to it.</summary>
    private static int ContentEnd(ChatTemplate template, IReadOnlyList<object?> messages, int i, string text, int start,
        object? tools, IReadOnlyDictionary<string, object?>? extra)
    {
        var message = (Dictionary<string, object?>)messages[i]!;
        if (message.GetValueOrDefault("content") is not string content) return start;
        var marked = messages.ToList();
        marked[i] = new Dictionary<string, object?>(message, StringComparer.Ordinal) { ["content"] = content + Marker };
        string other = template.Render(marked, addGenerationPrompt: false, tools, extra: extra);
        int common = 0;
        int limit = Math.Min(text.Length, other.Length);
        while (common < limit && text[common] == other[common]) common++;
        return Math.Max(common, start);
    }
}

/// <summary>A conversation the chat template renders, but whose assistant turns cannot be located by the documented rule.</summary>
public sealed class ChatTemplateException(string message) : Exception(message);
