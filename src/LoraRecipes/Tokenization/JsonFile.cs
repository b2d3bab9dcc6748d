using System.Text.Json;

namespace LoraRecipes.Tokenization;

/// <summary>
/// A parsed JSON file whose accessors report problems as <see cref="TokenizerLoadException"/>s
/// carrying the file name and the JSON path (<c>$.model.vocab</c>), never as raw JSON exceptions.
/// </summary>
internal sealed class JsonFile : IDisposable
{
    private readonly JsonDocument _document;

    private JsonFile(string path, JsonDocument document)
    {
        Path = path;
        _document = document;
    }

    public string Path { get; }
    public JsonElement Root => _document.RootElement;

    public static JsonFile Open(string path)
    {
        if (!File.Exists(path)) throw new TokenizerLoadException(path, "file not found");
        try
        {
            using FileStream stream = File.OpenRead(path);
            var options = new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 256 };
            return new JsonFile(path, JsonDocument.Parse(stream, options));
        }
        catch (JsonException e)
        {
            throw new TokenizerLoadException(path, $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new TokenizerLoadException(path, $"cannot be read: {e.Message}", e);
        }
    }

    public TokenizerLoadException Error(string jsonPath, string message) => new(Path, $"{jsonPath}: {message}");

    /// <summary>The property's value, or null when it is absent or JSON null.</summary>
    public static JsonElement? Optional(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    public JsonElement Required(JsonElement obj, string name, string path, JsonValueKind kind)
    {
        if (obj.ValueKind != JsonValueKind.Object) throw Error(path, $"expected an object, found {Describe(obj.ValueKind)}");
        JsonElement? value = Optional(obj, name);
        if (value is null) throw new TokenizerLoadException(Path, $"{path}.{name} is missing");
        return Expect(value.Value, $"{path}.{name}", kind);
    }

    public JsonElement Expect(JsonElement value, string path, JsonValueKind kind)
    {
        bool ok = kind == value.ValueKind
            || (kind == JsonValueKind.True && value.ValueKind == JsonValueKind.False);
        if (!ok) throw Error(path, $"expected {Describe(kind)}, found {Describe(value.ValueKind)}");
        return value;
    }

    public string? OptionalString(JsonElement obj, string name, string path)
    {
        JsonElement? value = Optional(obj, name);
        return value is null ? null : Expect(value.Value, $"{path}.{name}", JsonValueKind.String).GetString();
    }

    public bool? OptionalBool(JsonElement obj, string name, string path)
    {
        JsonElement? value = Optional(obj, name);
        return value is null ? null : Expect(value.Value, $"{path}.{name}", JsonValueKind.True).GetBoolean();
    }

    public int Int(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result) || result < 0)
            throw Error(path, $"expected a non-negative integer, found {value.GetRawText()}");
        return result;
    }

    public void Dispose() => _document.Dispose();

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
