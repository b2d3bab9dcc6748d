using System.IO.MemoryMappedFiles;
using static TorchSharp.torch;

namespace LoraRecipes.IO;

/// <summary>
/// One <c>.safetensors</c> file, memory-mapped read-only, its header validated on open (see
/// <see cref="SafetensorsHeader"/>). Tensors are copied out of the mapping once, on demand, by <see cref="ReadTensor"/>.
/// </summary>
/// <remarks>
/// Layout: 8 bytes little-endian u64 N, N bytes of UTF-8 JSON
/// (<c>{"__metadata__": {…}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …}</c>),
/// then the data section, offsets relative to its start. Replace the file by rename (as <see cref="AtomicFile"/> does),
/// never by truncating it in place while it is open: a mapped page that vanishes faults the process.
/// </remarks>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private readonly long _dataStart;
    private byte* _base;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer, SafetensorsHeader header)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        _dataStart = 8 + header.HeaderLength;
        Metadata = header.Metadata;
        Tensors = header.Tensors;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="SafetensorsFormatException">The file is not a well-formed safetensors file.</exception>
    public static SafetensorsFile Open(string path)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* pointer = null;
        try
        {
            long length = stream.Length;
            Span<byte> prefix = stackalloc byte[8];
            if (length >= 8)
            {
                stream.ReadExactly(prefix);
            }
            long headerLength = SafetensorsHeader.ReadHeaderLength(fullPath, prefix, length);

            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;

            // The header is at most 100 MB; one managed copy of it keeps the JSON parser off the mapping.
            byte[] json = new ReadOnlySpan<byte>(pointer + 8, checked((int)headerLength)).ToArray();
            SafetensorsHeader header = SafetensorsHeader.Parse(fullPath, json, length);
            return new SafetensorsFile(fullPath, map, view, pointer, header);
        }
        catch
        {
            if (pointer != null)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The header's <c>__metadata__</c> map; empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor, in data order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    public SafetensorsTensorInfo this[string name] =>
        _byName.TryGetValue(name, out SafetensorsTensorInfo? info)
            ? info
            : throw new KeyNotFoundException($"No tensor '{name}' in '{Path}'.");

    /// <summary>
    /// A new CPU tensor holding the stored values in the stored dtype (BF16 stays bfloat16), copied once from the
    /// mapping; converted with <c>to_type</c> when <paramref name="convertTo"/> names another dtype.
    /// </summary>
    public Tensor ReadTensor(string name, ScalarType? convertTo = null)
    {
        SafetensorsTensorInfo info = this[name];
        byte* source = DataPointer(info);
        Tensor tensor = empty(info.ShapeSpan, dtype: info.DType.ToScalarType());
        try
        {
            TensorBytes.CopyFrom((nint)source, info.ByteLength, tensor);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
        if (convertTo is not { } target || target == tensor.dtype)
        {
            return tensor;
        }
        using (tensor)
        {
            return tensor.to_type(target);
        }
    }

    /// <summary>A copy of the raw little-endian bytes of <paramref name="name"/> (for callers without torch).</summary>
    public byte[] ReadBytes(string name)
    {
        SafetensorsTensorInfo info = this[name];
        if (info.ByteLength > Array.MaxLength)
        {
            throw new InvalidOperationException($"Tensor '{name}' in '{Path}' is {info.ByteLength} bytes, too large for one array; use ReadTensor.");
        }
        return new ReadOnlySpan<byte>(DataPointer(info), (int)info.ByteLength).ToArray();
    }

    private byte* DataPointer(SafetensorsTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        return _base + _dataStart + info.Begin;
    }

    public void Dispose()
    {
        if (_base == null)
        {
            return;
        }
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
