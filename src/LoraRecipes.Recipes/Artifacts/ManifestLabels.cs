using System.Globalization;

namespace LoraRecipes.Recipes.Artifacts;

/// <summary>
/// A sequence classifier's classes as Hugging Face's config writes them: <c>num_labels</c>, <c>id2label</c>
/// (<c>"0": "negative"</c>) and <c>label2id</c>.
/// </summary>
public sealed record ManifestLabels
{
    public int NumLabels { get; init; }

    [System.Text.Json.Serialization.JsonPropertyName("id2label")]
    public IReadOnlyDictionary<string, string>? Id2Label { get; init; }

    [System.Text.Json.Serialization.JsonPropertyName("label2id")]
    public IReadOnlyDictionary<string, int>? Label2Id { get; init; }

    /// <summary>The record of <paramref name="labels"/> (by id).</summary>
    public static ManifestLabels From(IReadOnlyList<string> labels)
    {
        var id2label = new Dictionary<string, string>(StringComparer.Ordinal);
        var label2id = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++)
        {
            id2label[i.ToString(CultureInfo.InvariantCulture)] = labels[i];
            label2id[labels[i]] = i;
        }
        return new ManifestLabels { NumLabels = labels.Count, Id2Label = id2label, Label2Id = label2id };
    }

    /// <summary>The classes by id; <c>id2label</c> keys must be exactly 0..n-1 (<c>LABEL_i</c> when only num_labels is there).</summary>
    /// <exception cref="ArtifactFormatException">Keys that are not the ids 0..n-1, or no classes at all.</exception>
    public IReadOnlyList<string> ToList(string path)
    {
        if (Id2Label is { Count: > 0 } map)
        {
            if (map.Count > 100_000) throw new ArtifactFormatException(path, "\"id2label\" has more than 100000 entries.");
            var labels = new string[map.Count];
            foreach (var (key, value) in map)
            {
                if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id >= labels.Length)
                    throw new ArtifactFormatException(path, $"\"id2label\" key '{key}' is not an id in 0..{labels.Length - 1}.");
                labels[id] = value;
            }
            return labels;
        }
        if (NumLabels is >= 1 and <= 100_000) return Enumerable.Range(0, NumLabels).Select(i => $"LABEL_{i}").ToArray();
        throw new ArtifactFormatException(path, "\"labels\" has neither id2label nor a num_labels in 1..100000.");
    }
}
