using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraRecipes.Recipes.Schema;

/// <summary>
/// The JSON Schema (draft 2020-12) of recipes, generated from <see cref="RecipeSchema.Entries"/> — the same
/// table validation reads, so editors (YAML language server) and <c>dotnet lora validate</c> agree.
/// </summary>
/// <remarks>
/// Required keys are only required when the recipe has no <c>extends:</c>: a child recipe may get them
/// from its base, and the real check runs after merging. Sections reject unknown keys, as validation does.
/// </remarks>
public static class RecipeJsonSchema
{
    /// <summary>
    /// The schema's file in the repository (<c>templates/schema/</c>). The templates ship it beside each recipe they
    /// create, as <c>&lt;recipe&gt;.schema.json</c>, and point the recipe's <c>yaml-language-server</c> comment at that
    /// copy, so editors find it without network. The schema has no <c>$id</c>: it is not published at any URL.
    /// </summary>
    public const string FileName = "recipe-v1.schema.json";

    /// <summary>The schema as indented JSON text ('\n' line ends, ends with a newline).</summary>
    public static string Generate()
    {
        var root = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["title"] = $"LoraRecipes recipe (schema v{RecipeSchema.Version})",
            ["description"] = "A YAML recipe for `dotnet lora run`: base model, data, LoRA settings, training, evaluation and output.",
        };
        Fill(root, "");
        var options = new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        return root.ToJsonString(options).ReplaceLineEndings("\n") + "\n";
    }

    /// <summary>Adds type, properties, additionalProperties and (conditional) required for one section.</summary>
    private static void Fill(JsonObject target, string section)
    {
        var properties = new JsonObject();
        var required = new List<string>();
        foreach (var entry in RecipeSchema.ChildrenOf(section))
        {
            properties[entry.Key] = Property(entry);
            if (entry.Required || (entry.Type == RecipeValueType.Section && RecipeSchema.ChildrenOf(entry.Path).Any(c => c.Required)))
                required.Add(entry.Key);
        }
        target["type"] = "object";
        target["properties"] = properties;
        target["additionalProperties"] = false;
        if (required.Count == 0) return;
        var requiredArray = new JsonArray(required.Select(r => (JsonNode?)r).ToArray());
        if (section.Length == 0)
        {
            // Only a recipe without extends: must be complete on its own.
            target["if"] = new JsonObject { ["not"] = new JsonObject { ["required"] = new JsonArray("extends") } };
            target["then"] = new JsonObject { ["required"] = requiredArray };
        }
        else
        {
            target["$comment"] = "required unless the recipe uses extends: (checked after merging)";
        }
    }

    private static JsonObject Property(RecipeSchemaEntry entry)
    {
        var p = new JsonObject { ["description"] = entry.Doc };
        switch (entry.Type)
        {
            case RecipeValueType.Section:
                Fill(p, entry.Path);
                return p;
            case RecipeValueType.String:
                p["type"] = Types("string", entry.Nullable);
                if (entry.Pattern is { } pattern) p["pattern"] = pattern;
                break;
            case RecipeValueType.Integer:
                p["type"] = Types("integer", entry.Nullable);
                Bounds(p, entry);
                break;
            case RecipeValueType.Number:
                p["type"] = Types("number", entry.Nullable);
                Bounds(p, entry);
                break;
            case RecipeValueType.Boolean:
                p["type"] = Types("boolean", entry.Nullable);
                break;
            case RecipeValueType.Choice when entry.Pattern is { } choicePattern:
                p["anyOf"] = new JsonArray(new JsonObject { ["enum"] = Enum(entry.Allowed, entry.Nullable) }, new JsonObject { ["type"] = "string", ["pattern"] = choicePattern });
                break;
            case RecipeValueType.Choice:
                p["enum"] = Enum(entry.Allowed, entry.Nullable);
                break;
            case RecipeValueType.StringList:
                p["type"] = "array";
                p["items"] = new JsonObject { ["type"] = "string" };
                break;
            case RecipeValueType.ChoiceList:
                p["type"] = "array";
                p["items"] = new JsonObject { ["enum"] = Enum(entry.Allowed, false) };
                p["uniqueItems"] = true;
                break;
            case RecipeValueType.ModuleList:
                p["anyOf"] = new JsonArray(
                    new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" }, ["minItems"] = 1 },
                    new JsonObject { ["const"] = entry.Keyword });
                break;
            case RecipeValueType.Schedule:
                p["anyOf"] = new JsonArray(
                    new JsonObject { ["enum"] = new JsonArray("epoch", "never") },
                    new JsonObject { ["type"] = "integer", ["minimum"] = 1 });
                break;
        }
        if (entry.Default is { } value) p["default"] = JsonValueOf(value);
        else if (entry.Nullable) p["default"] = null;
        return p;
    }

    private static JsonNode Types(string type, bool nullable) => nullable ? new JsonArray(type, "null") : JsonValue.Create(type);

    private static JsonArray Enum(IEnumerable<string> values, bool nullable)
    {
        var array = new JsonArray(values.Select(v => (JsonNode?)v).ToArray());
        if (nullable) array.Add(null);
        return array;
    }

    private static void Bounds(JsonObject p, RecipeSchemaEntry entry)
    {
        if (entry.Minimum is { } min) p[entry.ExclusiveMinimum ? "exclusiveMinimum" : "minimum"] = Number(min, entry.Type);
        if (entry.Maximum is { } max) p[entry.ExclusiveMaximum ? "exclusiveMaximum" : "maximum"] = Number(max, entry.Type);
    }

    private static JsonNode Number(double value, RecipeValueType type) =>
        type == RecipeValueType.Integer || value == Math.Floor(value) && Math.Abs(value) < 1e15 ? JsonValue.Create((long)value) : JsonValue.Create(value);

    private static JsonNode? JsonValueOf(object value) => value switch
    {
        string s => s,
        long l => l,
        int i => i,
        double d => d,
        bool b => b,
        IEnumerable<string> list => new JsonArray(list.Select(x => (JsonNode?)x).ToArray()),
        _ => throw new InvalidOperationException($"unsupported default {value.GetType()}"),
    };
}
