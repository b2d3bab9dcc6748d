using System.Text.Json;
using System.Text.Unicode;

namespace LoraRecipes.IO;

/// <summary>
/// <c>model.safetensors.index.json</c>: <c>{"metadata": {...}, "weight_map": {"tensor": "model-00001-of-00002.safetensors"}}</c>,
/// validated as untrusted input: every shard must be a file inside the model folder, and must exist.
/// </summary>
internal sealed class SafetensorsIndex
{
    internal const string FileName = "model.safetensors.index.json";

    private SafetensorsIndex(IReadOnlyDictionary<string, string> metadata, IReadOnlyDictionary<string, string> weightMap)
    {
        Metadata = metadata;
        WeightMap = weightMap;
    }

    /// <summary>The index's metadata; non-string values (e.g. <c>total_size</c>) as their raw JSON text.</summary>
    internal IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor name → shard file name, relative to the folder.</summary>
    internal IReadOnlyDictionary<string, string> WeightMap { get; }

    internal static SafetensorsIndex Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        byte[] bytes = File.ReadAllBytes(path);
        if (!Utf8.IsValid(bytes))
        {
            throw new SafetensorsFormatException(path, "the index is not valid UTF-8");
        }
        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            return Read(folder, path, document.RootElement);
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(path, $"the index is not valid JSON ({e.Message})", inner: e);
        }
    }

    private static SafetensorsIndex Read(string folder, string path, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, "the index is not a JSON object");
        }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("metadata", out JsonElement meta) && meta.ValueKind != JsonValueKind.Null)
        {
            if (meta.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(path, "'metadata' is not an object");
            }
            foreach (JsonProperty p in meta.EnumerateObject())
            {
                metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }
        }
        if (!root.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, "'weight_map' is missing or not an object of tensor name → shard file");
        }
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var checkedShards = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty p in map.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafetensorsFormatException(path, "the weight_map value is not a file name", p.Name);
            }
            string shard = p.Value.GetString()!;
            if (checkedShards.Add(shard))
            {
                CheckShard(folder, path, p.Name, shard);
            }
            if (!weightMap.TryAdd(p.Name, shard))
            {
                throw new SafetensorsFormatException(path, "listed twice in weight_map", p.Name);
            }
        }
        return new SafetensorsIndex(metadata, weightMap);
    }

    /// <summary>A shard is a plain relative path that stays inside the folder and names an existing file.</summary>
    private static void CheckShard(string folder, string path, string tensor, string shard)
    {
        string? problem = shard switch
        {
            "" => "an empty shard file name",
            _ when shard.Any(char.IsControl) => "a shard file name with control characters",
            _ when Path.IsPathRooted(shard) || shard.StartsWith('/') || shard.StartsWith('\\') || shard.Contains(':') =>
                $"shard '{shard}' is an absolute path; shards must lie in the model folder",
            _ when shard.Split('/', '\\').Any(part => part is ".." or "." or "") =>
                $"shard '{shard}' escapes or leaves the model folder ('..', '.' or an empty path segment)",
            _ => null,
        };
        if (problem is null)
        {
            string root = Path.GetFullPath(folder) + Path.DirectorySeparatorChar;
            string full = Path.GetFullPath(Path.Combine(folder, shard));
            if (!full.StartsWith(root, StringComparison.Ordinal))
            {
                problem = $"shard '{shard}' resolves outside the model folder";
            }
            else if (!File.Exists(full))
            {
                problem = $"shard '{shard}' does not exist";
            }
        }
        if (problem is not null)
        {
            throw new SafetensorsFormatException(path, problem, tensor);
        }
    }
}
