using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace LoraRecipes.IO;

public sealed partial class SafetensorsCheckpoint
{
    /// <summary>
    /// Writes <paramref name="tensors"/> into <paramref name="folder"/> as <c>model.safetensors</c> when they fit in
    /// <paramref name="maxShardBytes"/>, else as <c>model-0000i-of-0000N.safetensors</c> shards plus
    /// <c>model.safetensors.index.json</c>, the way transformers' <c>save_pretrained</c> does. Shards fill greedily in the
    /// given order; a tensor larger than the limit gets a shard of its own. Every file is written atomically, the index
    /// last; weights files of an earlier save that the new layout does not use are then removed, so
    /// <see cref="Open"/> never mixes the two.
    /// </summary>
    public static void WriteSharded(string folder, IEnumerable<KeyValuePair<string, Tensor>> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        string full = Path.GetFullPath(folder);
        List<List<KeyValuePair<string, Tensor>>> shards = Plan(tensors.ToList(), maxShardBytes, out long totalSize);

        if (shards.Count <= 1)
        {
            SafetensorsWriter.Write(Path.Combine(full, SingleFileName), shards.FirstOrDefault() ?? [], metadata);
            RemoveStale(full, keep: [SingleFileName]);
            return;
        }

        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var names = new List<string>();
        for (int i = 0; i < shards.Count; i++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors");
            SafetensorsWriter.Write(Path.Combine(full, name), shards[i], metadata);
            names.Add(name);
            foreach ((string tensor, _) in shards[i])
            {
                weightMap[tensor] = name;
            }
        }
        AtomicFile.WriteAllText(Path.Combine(full, SafetensorsIndex.FileName), IndexJson(totalSize, weightMap));
        RemoveStale(full, keep: [.. names, SafetensorsIndex.FileName]);
    }

    private static List<List<KeyValuePair<string, Tensor>>> Plan(List<KeyValuePair<string, Tensor>> tensors, long maxShardBytes, out long totalSize)
    {
        var shards = new List<List<KeyValuePair<string, Tensor>>>();
        var current = new List<KeyValuePair<string, Tensor>>();
        long currentSize = 0;
        totalSize = 0;
        foreach (KeyValuePair<string, Tensor> pair in tensors)
        {
            long size = SafetensorsWriter.ByteLength(pair.Value);
            if (current.Count > 0 && currentSize + size > maxShardBytes)
            {
                shards.Add(current);
                current = [];
                currentSize = 0;
            }
            current.Add(pair);
            currentSize += size;
            totalSize += size;
        }
        if (current.Count > 0)
        {
            shards.Add(current);
        }
        return shards;
    }

    /// <summary>transformers writes <c>json.dumps(index, indent=2, sort_keys=True) + "\n"</c>.</summary>
    private static string IndexJson(long totalSize, SortedDictionary<string, string> weightMap)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalSize);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach ((string tensor, string shard) in weightMap)
            {
                json.WriteString(tensor, shard);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Deletes the weights files of an earlier layout: the single file, the index, numbered shards.</summary>
    private static void RemoveStale(string folder, IReadOnlyCollection<string> keep)
    {
        foreach (string path in Directory.EnumerateFiles(folder))
        {
            string name = Path.GetFileName(path);
            bool weights = name == SingleFileName || name == SafetensorsIndex.FileName || ShardName().IsMatch(name);
            if (weights && !keep.Contains(name))
            {
                File.Delete(path);
            }
        }
    }

    [GeneratedRegex(@"^model-\d{5}-of-\d{5}\.safetensors$")]
    private static partial Regex ShardName();
}
