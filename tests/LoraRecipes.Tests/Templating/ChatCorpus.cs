namespace LoraRecipes.Tests.Templating;

/// <summary>
/// Conversations for the chat-template conformance tests: with and without a system prompt, one to six turns,
/// tool calls (arguments as objects and as strings, several per turn, tool responses), reasoning, unicode, empty and
/// whitespace-only content, template syntax and special-token text inside content, and conversations some templates
/// refuse (Gemma's role alternation). Each is rendered with and without add_generation_prompt.
/// </summary>
internal static class ChatCorpus
{
    private const string Tools = """
        [{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name, e.g. 北京"},
          "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]}}},
         {"type": "function", "function": {"name": "add", "description": "Adds two numbers.",
          "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}}}]
        """;

    /// <summary>Name, messages (JSON) and tools (JSON or null).</summary>
    public static readonly (string Name, string Messages, string? Tools)[] Conversations =
    [
        ("single user", """[{"role": "user", "content": "Hello"}]""", null),
        ("user assistant", """[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]""", null),
        ("system user assistant", """[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]""", null),
        ("system user", """[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Name a colour."}]""", null),
        ("two rounds", """[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Tell me a joke."}, {"role": "assistant", "content": "Why did the chicken cross the road?"}]""", null),
        ("three rounds with system", """[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}, {"role": "user", "content": "e"}, {"role": "assistant", "content": "f"}]""", null),
        ("chinese medical", """[{"role": "user", "content": "请介绍一下什么是高血压"}, {"role": "assistant", "content": "高血压是指体循环动脉血压持续升高，收缩压≥140 mmHg。"}]""", null),
        ("emoji and scripts", """[{"role": "user", "content": "emoji 😀👍🏽 🇨🇳 👨‍👩‍👧‍👦 and Ελληνικά, русский, 日本語"}, {"role": "assistant", "content": "Noted ✅ — naïve café, Straße"}]""", null),
        ("empty user", """[{"role": "user", "content": ""}, {"role": "assistant", "content": "You sent nothing."}]""", null),
        ("empty assistant", """[{"role": "user", "content": "Say nothing."}, {"role": "assistant", "content": ""}]""", null),
        ("padded content", """[{"role": "user", "content": "  padded  \n"}, {"role": "assistant", "content": "\n\n  also padded \t"}]""", null),
        ("template syntax in content", """[{"role": "user", "content": "{{ not a tag }} {% if x %} {# c #}"}, {"role": "assistant", "content": "{{ still text }}"}]""", null),
        ("quotes and backslashes", """[{"role": "user", "content": "He said \"hi\" and it's C:\\path\\n"}, {"role": "assistant", "content": "'single' \"double\" \\ backslash"}]""", null),
        ("code block", """[{"role": "user", "content": "Write a loop."}, {"role": "assistant", "content": "```python\nfor i in range(3):\n    print(i)\n```"}]""", null),
        ("special-token text", """[{"role": "user", "content": "what is <|im_end|> or <end_of_turn> or <|eot_id|>?"}, {"role": "assistant", "content": "Markers."}]""", null),
        ("think in content", """[{"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n5"}]""", null),
        ("reasoning_content", """[{"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "5", "reasoning_content": "two plus three"}]""", null),
        ("think in earlier turn", """[{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "<think>\nsum\n</think>\n\n2"}, {"role": "user", "content": "and 2+2?"}, {"role": "assistant", "content": "<think>\nsum again\n</think>\n\n4"}]""", null),
        ("system only", """[{"role": "system", "content": "You are a bot."}]""", null),
        ("two systems", """[{"role": "system", "content": "First rule."}, {"role": "system", "content": "Second rule."}, {"role": "user", "content": "ok?"}]""", null),
        ("ends with user", """[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]""", null),
        ("six turns", """[{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}, {"role": "assistant", "content": "four"}, {"role": "user", "content": "five"}, {"role": "assistant", "content": "six"}]""", null),
        ("tool call, object arguments", """[{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}}]}, {"role": "tool", "content": "{\"temp\": 21}"}, {"role": "assistant", "content": "21 °C in Paris."}]""", Tools),
        ("tool call, null content", """[{"role": "user", "content": "Weather in 北京?"}, {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"北京\"}"}}]}, {"role": "tool", "content": "晴 25°C"}, {"role": "assistant", "content": "北京晴，25°C。"}]""", Tools),
        ("two tool calls", """[{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Add 1+2 and 3+4"}, {"role": "assistant", "content": "Calling.", "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}}, {"type": "function", "function": {"name": "add", "arguments": {"a": 3, "b": 4}}}]}, {"role": "tool", "content": "3"}, {"role": "tool", "content": "7"}, {"role": "assistant", "content": "3 and 7."}]""", Tools),
        ("tools offered, none called", """[{"role": "user", "content": "Just chat."}, {"role": "assistant", "content": "Sure."}]""", Tools),
        ("tool response as user turn", """[{"role": "user", "content": "go"}, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "<tool_response>\nresult\n</tool_response>"}]""", null),
        ("assistant first", """[{"role": "assistant", "content": "I speak first."}, {"role": "user", "content": "ok"}]""", null),
        ("two users in a row", """[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]""", null),
        ("crlf and tabs", """[{"role": "user", "content": "a\r\nb\tc"}, {"role": "assistant", "content": "line1\r\nline2"}]""", null),
        ("rtl and devanagari", """[{"role": "user", "content": "مرحبا بالعالم"}, {"role": "assistant", "content": "नमस्ते दुनिया"}]""", null),
        ("long content", "[{\"role\": \"user\", \"content\": \"" + string.Concat(Enumerable.Repeat("All work and no play. ", 40)) + "\"}, {\"role\": \"assistant\", \"content\": \"Understood.\"}]", null),
        ("whitespace-only content", """[{"role": "user", "content": "   "}, {"role": "assistant", "content": " \n "}]""", null),
        ("system with tools", """[{"role": "system", "content": "You may use tools."}, {"role": "user", "content": "Add 2 and 2."}]""", Tools),
    ];
}
