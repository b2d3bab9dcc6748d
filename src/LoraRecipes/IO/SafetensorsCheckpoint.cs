using static TorchSharp.torch;

namespace LoraRecipes.IO;

/// <summary>
/// The weights of a Hugging Face model folder: one <c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c>, each shard opened (and validated) on first use. Pickled checkpoints
/// (<c>*.bin</c>, <c>*.pt</c>) are refused with <see cref="PickledCheckpointException"/>.
/// </summary>
public sealed partial class SafetensorsCheckpoint : IDisposable
{
    internal const string SingleFileName = "model.safetensors";

    private static readonly string[] PickleExtensions = [".bin", ".pt", ".pth", ".ckpt", ".pkl"];

    private readonly IReadOnlyDictionary<string, string> _weightMap;
    private readonly Dictionary<string, SafetensorsFile> _open = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _disposed;

    private SafetensorsCheckpoint(string folder, IReadOnlyDictionary<string, string> weightMap, IReadOnlyDictionary<string, string> metadata)
    {
        Folder = folder;
        _weightMap = weightMap;
        IndexMetadata = metadata;
        Names = weightMap.Keys.OrderBy(n => n, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Opens the weights of <paramref name="folder"/>; the index (if any) is validated now, shards on first use.</summary>
    /// <exception cref="SafetensorsFormatException">A malformed index or single file.</exception>
    /// <exception cref="PickledCheckpointException">Only pickled weights are present.</exception>
    /// <exception cref="FileNotFoundException">No weights at all.</exception>
    public static SafetensorsCheckpoint Open(string folder)
    {
        string full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"Model folder '{full}' does not exist.");
        }
        if (File.Exists(Path.Combine(full, SafetensorsIndex.FileName)))
        {
            SafetensorsIndex index = SafetensorsIndex.Read(full);
            return new SafetensorsCheckpoint(full, index.WeightMap, index.Metadata);
        }
        if (File.Exists(Path.Combine(full, SingleFileName)))
        {
            SafetensorsFile file = SafetensorsFile.Open(Path.Combine(full, SingleFileName));
            var map = file.Tensors.ToDictionary(t => t.Name, _ => SingleFileName, StringComparer.Ordinal);
            var checkpoint = new SafetensorsCheckpoint(full, map, new Dictionary<string, string>());
            checkpoint._open[SingleFileName] = file;
            return checkpoint;
        }
        string[] pickles = Directory.EnumerateFiles(full)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => PickleExtensions.Contains(Path.GetExtension(name), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (pickles.Length > 0)
        {
            throw new PickledCheckpointException(full, pickles);
        }
        throw new FileNotFoundException($"No weights in '{full}': expected {SingleFileName} or {SafetensorsIndex.FileName}.");
    }

    /// <summary>The model folder (full path).</summary>
    public string Folder { get; }

    /// <summary>Every tensor name, in ordinal order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The index's <c>metadata</c> (e.g. <c>total_size</c>, as JSON text); empty for a single file.</summary>
    public IReadOnlyDictionary<string, string> IndexMetadata { get; }

    /// <summary>Whether a tensor named <paramref name="name"/> exists.</summary>
    public bool Contains(string name) => _weightMap.ContainsKey(name);

    /// <summary>The shard file (relative to <see cref="Folder"/>) that holds <paramref name="name"/>.</summary>
    public string ShardOf(string name) =>
        _weightMap.TryGetValue(name, out string? shard) ? shard : throw new KeyNotFoundException($"No tensor '{name}' in '{Folder}'.");

    /// <summary>The header entry of <paramref name="name"/>, opening its shard if needed.</summary>
    public SafetensorsTensorInfo Info(string name) => Shard(name)[name];

    /// <summary>A new CPU tensor; see <see cref="SafetensorsFile.ReadTensor"/>.</summary>
    public Tensor ReadTensor(string name, ScalarType? convertTo = null) => Shard(name).ReadTensor(name, convertTo);

    private SafetensorsFile Shard(string name)
    {
        string shard = ShardOf(name);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_open.TryGetValue(shard, out SafetensorsFile? file))
            {
                file = SafetensorsFile.Open(Path.Combine(Folder, shard));
                try
                {
                    CheckIndexAgainst(file, shard);
                }
                catch
                {
                    file.Dispose();
                    throw;
                }
                _open[shard] = file;
            }
            return file;
        }
    }

    /// <summary>Every name the index places in <paramref name="shard"/> must be in it (extra tensors are ignored, as transformers does).</summary>
    private void CheckIndexAgainst(SafetensorsFile file, string shard)
    {
        foreach ((string tensor, string inShard) in _weightMap)
        {
            if (inShard == shard && !file.Contains(tensor))
            {
                throw new SafetensorsFormatException(Path.Combine(Folder, SafetensorsIndex.FileName),
                    $"the index places it in '{shard}', which has no such tensor", tensor);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (SafetensorsFile file in _open.Values)
            {
                file.Dispose();
            }
            _open.Clear();
        }
    }
}
