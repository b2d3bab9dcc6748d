using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LoraRecipes.Recipes.Schema;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace LoraRecipes.Recipes;

/// <summary>Serialises a plan: the resolved recipe as YAML (<c>recipe.resolved.yaml</c>) and the canonical JSON behind the fingerprint.</summary>
public static partial class PlanWriter
{
    /// <summary>
    /// The resolved recipe as YAML: every key of schema v1 with defaults filled, paths as written
    /// (relative to the original recipe), no <c>extends:</c>. Loading it back gives an equal <see cref="Recipe"/>.
    /// The comment header (source, overrides, fingerprint) is for people; programs read the provenance from the
    /// manifest (<see cref="Artifacts.LoraManifest.Provenance"/>).
    /// </summary>
    public static string ToYaml(TrainingPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        text.WriteLine($"# Resolved recipe '{plan.Recipe.Name}' (schema v{RecipeSchema.Version}): every default filled, extends merged, overrides applied.");
        text.WriteLine($"# Source: {plan.RecipePath}");
        foreach (var o in plan.Overrides)
        {
            text.WriteLine($"# --set {o}");
        }

        text.WriteLine($"# Fingerprint: {plan.Fingerprint}");
        WriteRecipeYaml(plan.Recipe, text);
        return text.ToString();
    }

    /// <summary>
    /// The canonical serialisation the fingerprint hashes: sorted keys, invariant culture, no whitespace;
    /// the recipe without <c>output.dir</c>, paths as written (relative to the recipe folder, '/' separators),
    /// the base model reference, tool and builtin-generator versions and each input's role, size and SHA-256.
    /// Absolute paths never appear, so moving the whole folder keeps the fingerprint.
    /// </summary>
    public static string ToCanonicalJson(TrainingPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var recipe = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (entry, value) in RecipeProjection.Values(plan.Recipe).Where(x => x.Entry.Path != "output.dir"))
        {
            var section = entry.Parent.Length == 0 ? recipe : Section(recipe, entry.Parent);
            section[entry.Key] = entry.Path is "data.train" or "data.validation" or "base_model" && value is string path ? path.Replace('\\', '/') : value;
        }

        var baseModel = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["kind"] = plan.BaseModel.Kind.ToString().ToLowerInvariant(),
            ["name"] = plan.BaseModel.Name.Replace('\\', '/'),
            ["revision"] = plan.BaseModel.Revision,
        };
        if (plan.BaseModel.Kind == BaseModelKind.Builtin)
        {
            baseModel["builtin_version"] = plan.BuiltinModelVersion;
        }

        var inputs = plan.InputFiles.OrderBy(i => i.Role, StringComparer.Ordinal).Select(i => new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["role"] = i.Role,
            ["sha256"] = i.Sha256,
            ["size"] = i.Size,
        }).ToArray();
        var root = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["base_model"] = baseModel,
            ["inputs"] = inputs,
            ["recipe"] = recipe,
            ["schema_version"] = (long)RecipeSchema.Version,
            ["tool_version"] = plan.ToolVersion,
        };

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            WriteJson(json, root);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static SortedDictionary<string, object?> Section(SortedDictionary<string, object?> root, string name)
    {
        if (!root.TryGetValue(name, out var section))
        {
            root[name] = section = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        }

        return (SortedDictionary<string, object?>)section!;
    }

    private static void WriteJson(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case long l: json.WriteNumberValue(l); break;
            case double d: json.WriteNumberValue(d); break;
            case bool b: json.WriteBooleanValue(b); break;
            case SortedDictionary<string, object?> map:
                json.WriteStartObject();
                foreach (var (key, item) in map)
                {
                    json.WritePropertyName(key);
                    WriteJson(json, item);
                }

                json.WriteEndObject();
                break;
            case System.Collections.IEnumerable list:
                json.WriteStartArray();
                foreach (var item in list)
                {
                    WriteJson(json, item);
                }

                json.WriteEndArray();
                break;
            default: throw new InvalidOperationException($"Cannot serialise {value.GetType()}.");
        }
    }

    // Sections in schema order, each key once; lists in flow style except samples (long free text).
    private static void WriteRecipeYaml(Recipe recipe, TextWriter text)
    {
        var emitter = new Emitter(text, new EmitterSettings().WithMaxSimpleKeyLength(1024));
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        emitter.Emit(new MappingStart());
        // Open sections as a path ("evaluation", "evaluation.early_stopping"): close down to the common prefix, open the rest.
        var open = new List<string>();
        foreach (var (entry, value) in RecipeProjection.Values(recipe))
        {
            var parts = entry.Parent.Length == 0 ? [] : entry.Parent.Split('.');
            int common = 0;
            while (common < open.Count && common < parts.Length && open[common] == parts[common]) common++;
            for (; open.Count > common; open.RemoveAt(open.Count - 1)) emitter.Emit(new MappingEnd());
            foreach (var part in parts.Skip(common))
            {
                emitter.Emit(new Scalar(part));
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, isImplicit: true, MappingStyle.Block));
                open.Add(part);
            }

            emitter.Emit(new Scalar(entry.Key));
            EmitValue(emitter, value, entry.Path == "evaluation.samples" ? SequenceStyle.Block : SequenceStyle.Flow);
        }

        for (; open.Count > 0; open.RemoveAt(open.Count - 1)) emitter.Emit(new MappingEnd());

        emitter.Emit(new MappingEnd());
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
    }

    private static void EmitValue(IEmitter emitter, object? value, SequenceStyle listStyle)
    {
        switch (value)
        {
            case null: emitter.Emit(Plain("null")); break;
            case bool b: emitter.Emit(Plain(b ? "true" : "false")); break;
            case long l: emitter.Emit(Plain(l.ToString(CultureInfo.InvariantCulture))); break;
            case double d: emitter.Emit(Plain(d.ToString("R", CultureInfo.InvariantCulture))); break;
            case string s: emitter.Emit(Text(s)); break;
            case string[] list:
                var style = list.Length == 0 ? SequenceStyle.Flow : listStyle;
                emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, isImplicit: true, style));
                foreach (var item in list)
                {
                    emitter.Emit(Text(item));
                }

                emitter.Emit(new SequenceEnd());
                break;
            default: throw new InvalidOperationException($"Cannot write {value.GetType()} as YAML.");
        }
    }

    private static Scalar Plain(string text) =>
        new(AnchorName.Empty, TagName.Empty, text, ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false);

    // Text that a plain scalar would read as null, a boolean or a number is double-quoted to stay text.
    private static Scalar Text(string text) =>
        new(AnchorName.Empty, TagName.Empty, text, LooksTyped().IsMatch(text) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any,
            isPlainImplicit: true, isQuotedImplicit: true);

    [GeneratedRegex(@"^(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|no|on|off|[-+]?[0-9._]+([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")]
    private static partial Regex LooksTyped();
}
