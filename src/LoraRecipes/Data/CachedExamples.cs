using System.Collections;
using System.IO.MemoryMappedFiles;

namespace LoraRecipes.Data;

/// <summary>
/// The examples of a token cache file (<see cref="TokenCacheFile"/>), memory-mapped read-only: the index is in memory,
/// the tokens stay in the file and an example is decoded (copied out, checksum checked) each time it is read. Sizes come
/// from the index (<see cref="IExampleLengths"/>), so batching, packing and filtering never read a token. Dispose
/// unmaps the file and closes it.
/// </summary>
public sealed unsafe class CachedExamples : IReadOnlyList<TokenizedExample>, IExampleLengths, IDisposable
{
    private readonly TokenCacheFile.Entry[] _index;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    private CachedExamples(string path, TokenCacheFile.Entry[] index, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        _index = index;
        _map = map;
        _view = view;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
        _base += _view.PointerOffset;
    }

    /// <summary>The cache file.</summary>
    public string Path { get; }

    /// <summary>Maps <paramref name="path"/>; null when it is missing, unreadable or not a whole v2 cache file (then re-encode).</summary>
    public static CachedExamples? TryOpen(string path)
    {
        FileStream? stream = null;
        MemoryMappedFile? map = null;
        try
        {
            // FileShare.Delete: another run may replace the file (an atomic rename) while this one trains on it.
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1 << 16);
            if (TokenCacheFile.ReadIndex(stream) is not { } index) return null;
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            stream = null;   // the map owns it now
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            var examples = new CachedExamples(path, index, map, view);
            map = null;
            return examples;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
        finally
        {
            map?.Dispose();
            stream?.Dispose();
        }
    }

    public int Count => _index.Length;

    /// <summary>Example <paramref name="index"/>, decoded from the mapped file.</summary>
    /// <exception cref="DataFormatException">The file changed under the run (its bytes no longer match the index); names the cache file and the record.</exception>
    public TokenizedExample this[int index]
    {
        get
        {
            var e = _index[index];
            ObjectDisposedException.ThrowIf(_base is null, this);
            var tokens = new ReadOnlySpan<int>(_base + e.Offset, 2 * e.Length);
            var ids = tokens[..e.Length].ToArray();
            var labels = tokens[e.Length..].ToArray();
            if (TokenCacheFile.Checksum(ids, labels) != e.Checksum)
                throw new DataFormatException(Path, e.RecordNumber, null,
                    $"the tokens cached for this record (example {index} of the token cache) do not match their checksum: the cache file was changed or damaged.",
                    "Delete that file and run again; it is re-created from the data file.");
            return new TokenizedExample(ids, labels, e.RecordNumber);
        }
    }

    public int LengthOf(int index) => _index[index].Length;
    public int TrainedTokensOf(int index) => _index[index].Trained;
    public int ScoredPositionsOf(int index) => _index[index].Scored;

    /// <summary>The record number of example <paramref name="index"/>, from the index.</summary>
    public int RecordNumberOf(int index) => _index[index].RecordNumber;

    public IEnumerator<TokenizedExample> GetEnumerator()
    {
        for (int i = 0; i < _index.Length; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Unmaps and closes the file; idempotent.</summary>
    public void Dispose()
    {
        if (_base is null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
