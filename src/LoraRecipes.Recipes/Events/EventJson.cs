using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoraRecipes.Events;

/// <summary>
/// Events ↔ NDJSON lines: one compact JSON object per event, <c>type</c> first, then <c>v</c> (the schema version), then the
/// event's fields in snake_case. Non-finite numbers are written as the strings <c>"NaN"</c>, <c>"Infinity"</c>,
/// <c>"-Infinity"</c> (JSON has no NaN).
/// </summary>
/// <remarks>
/// Versioning: adding an event type or a field keeps <see cref="SchemaVersion"/>; readers ignore types and fields they do not
/// know. Renaming or removing a field, changing its meaning or type, or renaming a <c>type</c> bumps it.
/// </remarks>
public static class EventJson
{
    /// <summary>The version of the event schema documented in docs/events.md.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The serializer settings of the stream (snake_case names, enums as snake_case strings, text kept readable).</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        AllowOutOfOrderMetadataProperties = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>One line of the stream (no line break: strings escape theirs).</summary>
    public static string Serialize(TrainingEvent e) => JsonSerializer.Serialize(e, Options);

    /// <summary>
    /// Reads one line: <see cref="EventLine.Event"/> for a known event; <see cref="EventLine.Unknown"/> for a valid JSON object
    /// of a type (or a newer schema version) this reader does not know; <see cref="EventLine.Malformed"/> for anything else.
    /// </summary>
    public static EventLine Parse(string line)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            return EventLine.Malformed(line, ex.Message);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                return EventLine.Malformed(line, "not a JSON object with a string 'type'");
            if (!root.TryGetProperty("v", out var v) || !v.TryGetInt32(out int version))
                return EventLine.Malformed(line, "no schema version 'v'");
            if (version > SchemaVersion || !KnownTypes.Contains(type.GetString()!))
                return EventLine.Unknown(line, type.GetString()!, version);
            try
            {
                return EventLine.Of(line, root.Deserialize<TrainingEvent>(Options)!);
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
            {
                return EventLine.Malformed(line, ex.Message);
            }
        }
    }

    /// <summary>Every <c>type</c> discriminator of <see cref="TrainingEvent"/>, from its attributes.</summary>
    public static IReadOnlySet<string> KnownTypes { get; } = typeof(TrainingEvent)
        .GetCustomAttributes(typeof(JsonDerivedTypeAttribute), inherit: false)
        .Select(a => (string)((JsonDerivedTypeAttribute)a).TypeDiscriminator!)
        .ToHashSet(StringComparer.Ordinal);
}

/// <summary>What one NDJSON line turned out to be.</summary>
/// <param name="Line">The text as read.</param>
/// <param name="Event">The event, for a known type.</param>
/// <param name="Type">The <c>type</c> of an unknown event (a newer trainer's), else null.</param>
/// <param name="Error">Why the line is not an event, for a malformed line.</param>
public sealed record EventLine(string Line, TrainingEvent? Event, string? Type, string? Error)
{
    public static EventLine Of(string line, TrainingEvent e) => new(line, e, null, null);
    public static EventLine Unknown(string line, string type, int version) => new(line, null, $"{type} (v{version})", null);
    public static EventLine Malformed(string line, string error) => new(line, null, null, error);
}
