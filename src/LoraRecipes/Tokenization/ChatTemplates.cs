using System.Text.RegularExpressions;

namespace LoraRecipes.Tokenization;

/// <summary>
/// Recognises a tokenizer_config.json <c>chat_template</c> (Jinja) by its shape and names the built-in prompt format
/// that writes the same turns, so <c>prompt_template: model</c> works without a Jinja engine. Recognised: ChatML
/// (Qwen 2/2.5/3, SmolLM 2: <c>'&lt;|im_start|&gt;' + message.role + '\n'</c> … <c>'&lt;|im_end|&gt;'</c>) and the
/// Llama 3 header style (<c>'&lt;|start_header_id|&gt;' + message['role'] + '&lt;|end_header_id|&gt;</c> …
/// <c>'&lt;|eot_id|&gt;'</c>). Anything else is not supported.
/// </summary>
public static class ChatTemplates
{
    // A role header built from the message's role, written message['role'] or message.role.
    private const string Role = @"message(\[\s*['""]role['""]\s*\]|\.role)";

    private static readonly Regex ChatMlTurn = new(
        @"['""]<\|im_start\|>['""]\s*\+\s*" + Role + @"\s*\+\s*['""](\\n|\n)", RegexOptions.CultureInvariant);

    private static readonly Regex Llama3Turn = new(
        @"['""]<\|start_header_id\|>['""]\s*\+\s*" + Role + @"\s*\+\s*['""]<\|end_header_id\|>", RegexOptions.CultureInvariant);

    /// <summary>"chatml", "llama3", or null when the template is absent or has no known shape.</summary>
    public static string? KnownTemplate(string? chatTemplate)
    {
        if (string.IsNullOrWhiteSpace(chatTemplate)) return null;
        if (ChatMlTurn.IsMatch(chatTemplate) && chatTemplate.Contains("<|im_end|>", StringComparison.Ordinal)) return "chatml";
        if (Llama3Turn.IsMatch(chatTemplate) && chatTemplate.Contains("<|eot_id|>", StringComparison.Ordinal)) return "llama3";
        return null;
    }

    /// <summary>Why <c>prompt_template: model</c> cannot be used with this tokenizer.</summary>
    public static string Unsupported(string? chatTemplate) => string.IsNullOrWhiteSpace(chatTemplate)
        ? "prompt_template: model needs the tokenizer's chat_template, and tokenizer_config.json has none; use alpaca, chatml, llama3 or plain."
        : "prompt_template: model: the tokenizer's chat_template is not one of the shapes this version recognises (ChatML as Qwen writes it, "
          + "Llama 3's <|start_header_id|> headers); use alpaca, chatml, llama3 or plain, whichever the model was trained with.";
}
