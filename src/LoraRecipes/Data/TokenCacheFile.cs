using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace LoraRecipes.Data;

/// <summary>
/// The token cache's file, format v2: tokens first, then a compact index, so examples stream in while it is written
/// and are memory-mapped, one decoded on access, when it is read (<see cref="CachedExamples"/>). Little-endian:
/// <code>
/// header  (24 B)       magic "LRTK" u32 · version i32 = 2 · count i32 · 0 i32 · index offset i64
/// payload              per example: ids i32[length] · labels i32[length]
/// index   (32 B each)  offset i64 · record number i32 · length i32 · trained i32 · scored i32 · checksum u64
/// trailer (32 B)       SHA-256 of index ‖ header
/// </code>
/// The header is written last, so a file cut short never has one; the sizes must add up to the file length, the index
/// must hash to the trailer, and each example's checksum is checked when it is decoded (v1 held no index: a
/// whole list read into memory).
/// </summary>
internal static class TokenCacheFile
{
    public const uint Magic = 0x4B54524C;   // "LRTK"
    public const int Version = 2;
    public const int HeaderSize = 24, EntrySize = 32, TrailerSize = 32;

    /// <summary>One example's index entry: where its tokens are and the sizes batching needs without them.</summary>
    public readonly record struct Entry(long Offset, int RecordNumber, int Length, int Trained, int Scored, ulong Checksum);

    /// <summary>Writes <paramref name="examples"/> as they come (one in memory at a time, plus 32 B of index each); returns the count.</summary>
    public static int Write(Stream stream, IEnumerable<TokenizedExample> examples)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the token cache is little-endian.");
        long origin = stream.Position;
        stream.Write(new byte[HeaderSize]);   // zeros until the end: a torn file has no magic
        var entries = new List<Entry>();
        long offset = HeaderSize;
        foreach (var e in examples)
        {
            if (e.Labels.Length != e.InputIds.Length) throw new ArgumentException($"record {e.RecordNumber}: {e.InputIds.Length} ids but {e.Labels.Length} labels.", nameof(examples));
            stream.Write(MemoryMarshal.AsBytes(e.InputIds.AsSpan()));
            stream.Write(MemoryMarshal.AsBytes(e.Labels.AsSpan()));
            entries.Add(new Entry(offset, e.RecordNumber, e.InputIds.Length, ExampleLengths.Trained(e.Labels), ExampleLengths.Scored(e.Labels), Checksum(e.InputIds, e.Labels)));
            offset += 8L * e.InputIds.Length;
        }
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var entry = new byte[EntrySize];
        foreach (var e in entries)
        {
            Encode(e, entry);
            sha.AppendData(entry);
            stream.Write(entry);
        }
        var header = Header(entries.Count, offset);
        sha.AppendData(header);
        stream.Write(sha.GetHashAndReset());
        long end = stream.Position;
        stream.Position = origin;
        stream.Write(header);
        stream.Position = end;
        return entries.Count;
    }

    /// <summary>
    /// The index of the cache file open in <paramref name="stream"/>, or null when it is not one this version wrote
    /// whole: wrong magic or version, sizes that do not add up to the file length, an index that does not hash to its
    /// trailer or whose examples do not tile the payload.
    /// </summary>
    public static Entry[]? ReadIndex(Stream stream)
    {
        long fileLength = stream.Length;
        if (!BitConverter.IsLittleEndian || fileLength < HeaderSize + TrailerSize) return null;
        var header = new byte[HeaderSize];
        stream.Position = 0;
        stream.ReadExactly(header);
        var h = header.AsSpan();
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != Magic || BinaryPrimitives.ReadInt32LittleEndian(h[4..]) != Version) return null;
        int count = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        long indexOffset = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
        if (count < 0 || BinaryPrimitives.ReadInt32LittleEndian(h[12..]) != 0 || indexOffset < HeaderSize
            || indexOffset != fileLength - TrailerSize - (long)count * EntrySize) return null;

        stream.Position = indexOffset;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var entries = new Entry[count];
        var bytes = new byte[EntrySize];
        long expected = HeaderSize;
        for (int i = 0; i < count; i++)
        {
            stream.ReadExactly(bytes);
            sha.AppendData(bytes);
            var e = entries[i] = Decode(bytes);
            if (e.Offset != expected || e.Length < 0 || e.Trained < 0 || e.Trained > e.Length || e.Scored < 0 || e.Scored > e.Trained) return null;
            expected += 8L * e.Length;
        }
        if (expected != indexOffset) return null;
        sha.AppendData(header);
        var trailer = new byte[TrailerSize];
        stream.ReadExactly(trailer);
        return sha.GetHashAndReset().AsSpan().SequenceEqual(trailer) ? entries : null;
    }

    /// <summary>FNV-1a over the 32-bit words of the ids then the labels: cheap, and enough to tell a changed example.</summary>
    public static ulong Checksum(ReadOnlySpan<int> ids, ReadOnlySpan<int> labels)
    {
        ulong hash = 0xCBF29CE484222325UL ^ (ulong)ids.Length;
        foreach (int v in ids) hash = (hash ^ (uint)v) * 0x100000001B3UL;
        foreach (int v in labels) hash = (hash ^ (uint)v) * 0x100000001B3UL;
        return hash;
    }

    private static byte[] Header(int count, long indexOffset)
    {
        var header = new byte[HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), Version);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), count);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), indexOffset);
        return header;
    }

    private static void Encode(Entry e, Span<byte> b)
    {
        BinaryPrimitives.WriteInt64LittleEndian(b, e.Offset);
        BinaryPrimitives.WriteInt32LittleEndian(b[8..], e.RecordNumber);
        BinaryPrimitives.WriteInt32LittleEndian(b[12..], e.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b[16..], e.Trained);
        BinaryPrimitives.WriteInt32LittleEndian(b[20..], e.Scored);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], e.Checksum);
    }

    private static Entry Decode(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadInt64LittleEndian(b), BinaryPrimitives.ReadInt32LittleEndian(b[8..]), BinaryPrimitives.ReadInt32LittleEndian(b[12..]),
        BinaryPrimitives.ReadInt32LittleEndian(b[16..]), BinaryPrimitives.ReadInt32LittleEndian(b[20..]), BinaryPrimitives.ReadUInt64LittleEndian(b[24..]));
}
