using System.Text.Json;

namespace LoraRecipes.Data;

/// <summary>Turns one JSON object into a <see cref="DataRecord"/> for the recipe's data format.</summary>
internal static class RecordParser
{
    public static DataRecord Parse(JsonElement e, string format, string path, int number, int line) => format switch
    {
        "alpaca" => new DataRecord
        {
            RecordNumber = number,
            Line = line,
            Instruction = RequiredString(e, "instruction", format, path, number, line),
            Input = OptionalString(e, "input", format, path, number, line) ?? "",
            Output = RequiredString(e, "output", format, path, number, line),
        },
        "text" => new DataRecord { RecordNumber = number, Line = line, Text = RequiredString(e, "text", format, path, number, line) },
        "messages" => new DataRecord { RecordNumber = number, Line = line, Messages = Messages(e, path, number, line) },
        "classification" => Classification(e, path, number, line),
        _ => throw new DataFormatException(path, null, null, $"data.format '{format}' is not supported for training here yet.", "Use alpaca, text, messages or classification."),
    };

    private static string RequiredString(JsonElement e, string key, string format, string path, int number, int line) =>
        OptionalString(e, key, format, path, number, line)
        ?? throw new DataFormatException(path, number, line, $"missing \"{key}\".", DataReader.Hint(format));

    private static string? OptionalString(JsonElement e, string key, string format, string path, int number, int line)
    {
        if (!e.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String)
            throw new DataFormatException(path, number, line, $"\"{key}\" must be a string, found {v.ValueKind.ToString().ToLowerInvariant()}.", DataReader.Hint(format));
        return v.GetString();
    }

    /// <summary>{"text": "…", "label": "positive"} or {"text": "…", "label": 1}.</summary>
    private static DataRecord Classification(JsonElement e, string path, int number, int line)
    {
        string text = RequiredString(e, "text", "classification", path, number, line);
        if (!e.TryGetProperty("label", out var label) || label.ValueKind == JsonValueKind.Null)
            throw new DataFormatException(path, number, line, "missing \"label\".", DataReader.Hint("classification"));
        if (label.ValueKind == JsonValueKind.String)
        {
            string name = label.GetString()!;
            if (name.Trim().Length == 0) throw new DataFormatException(path, number, line, "\"label\" is empty.", DataReader.Hint("classification"));
            return new DataRecord { RecordNumber = number, Line = line, Text = text, Label = name };
        }
        if (label.ValueKind == JsonValueKind.Number && label.TryGetInt32(out int id) && id >= 0)
            return new DataRecord { RecordNumber = number, Line = line, Text = text, Label = id.ToString(System.Globalization.CultureInfo.InvariantCulture), LabelId = id };
        throw new DataFormatException(path, number, line, $"\"label\" must be a class name or a non-negative integer id, found {label.GetRawText()}.", DataReader.Hint("classification"));
    }

    private static IReadOnlyList<ChatMessage> Messages(JsonElement e, string path, int number, int line)
    {
        if (!e.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw new DataFormatException(path, number, line, "\"messages\" must be a non-empty array.", DataReader.Hint("messages"));
        var messages = new List<ChatMessage>();
        foreach (var m in list.EnumerateArray())
        {
            string? role = m.ValueKind == JsonValueKind.Object && m.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            string? content = m.ValueKind == JsonValueKind.Object && m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            if (role is not ("system" or "user" or "assistant") || content is null)
                throw new DataFormatException(path, number, line, $"message {messages.Count + 1} needs \"role\" (system, user or assistant) and a \"content\" string.", DataReader.Hint("messages"));
            messages.Add(new ChatMessage(role, content));
        }
        if (messages[^1].Role != "assistant")
            throw new DataFormatException(path, number, line, "the last message must be the assistant's (it is what the model learns to say).", null);
        return messages;
    }
}
