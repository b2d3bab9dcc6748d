using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using static TorchSharp.torch;

namespace LoraRecipes.IO;

/// <summary>
/// Writes safetensors files byte-for-byte as the reference implementation (huggingface/safetensors
/// <c>serialize_to_file</c>) does: tensors laid out by descending dtype alignment then by name, the header in that
/// same order (with <c>__metadata__</c> first), compact JSON, padded with spaces to a multiple of 8 bytes.
/// </summary>
public static class SafetensorsWriter
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> atomically (see <see cref="AtomicFile"/>), one
    /// tensor at a time from a contiguous CPU copy, in little-endian. Tensors may live on any device.
    /// </summary>
    /// <exception cref="ArgumentException">A duplicate or reserved name, or a dtype safetensors cannot hold here.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        List<Entry> entries = Layout(tensors);
        byte[] header = Header(entries, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (Entry entry in entries)
            {
                TensorBytes.WriteTo(entry.Tensor, stream);
            }
        });
    }

    /// <summary>The number of data bytes <paramref name="tensor"/> takes in a safetensors file.</summary>
    public static long ByteLength(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return checked(tensor.numel() * DTypeOf("tensor", tensor).ElementSize());
    }

    private sealed record Entry(string Name, Tensor Tensor, SafetensorsDType DType, long[] Shape, long Begin, long End);

    /// <summary>The reference's order (<c>prepare</c> in tensor.rs) and the contiguous offsets that follow from it.</summary>
    private static List<Entry> Layout(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var pending = new List<(string Name, Tensor Tensor, SafetensorsDType DType)>();
        foreach ((string name, Tensor tensor) in tensors)
        {
            ArgumentNullException.ThrowIfNull(name, "tensor name");
            ArgumentNullException.ThrowIfNull(tensor, name);
            if (name == SafetensorsHeader.MetadataKey)
            {
                throw new ArgumentException($"'{SafetensorsHeader.MetadataKey}' is reserved for the metadata map and cannot name a tensor.", nameof(tensors));
            }
            if (!names.Add(name))
            {
                throw new ArgumentException($"Duplicate tensor name '{name}'.", nameof(tensors));
            }
            pending.Add((name, tensor, DTypeOf(name, tensor)));
        }
        pending.Sort((a, b) =>
        {
            int byAlignment = b.DType.AlignmentRank().CompareTo(a.DType.AlignmentRank());
            return byAlignment != 0 ? byAlignment : CompareUtf8(a.Name, b.Name);
        });

        var entries = new List<Entry>(pending.Count);
        long offset = 0;
        foreach ((string name, Tensor tensor, SafetensorsDType dtype) in pending)
        {
            long length = checked(tensor.numel() * dtype.ElementSize());
            entries.Add(new Entry(name, tensor, dtype, tensor.shape, offset, offset + length));
            offset = checked(offset + length);
        }
        return entries;
    }

    private static SafetensorsDType DTypeOf(string name, Tensor tensor) =>
        SafetensorsDTypes.TryFromScalarType(tensor.dtype, out SafetensorsDType dtype)
            ? dtype
            : throw new ArgumentException($"Tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store here.", nameof(tensor));

    /// <summary>Compact JSON as serde_json writes it, then spaces up to a multiple of 8 bytes.</summary>
    private static byte[] Header(List<Entry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new StringBuilder("{");
        if (metadata is not null)
        {
            // The reference keeps metadata in a HashMap (arbitrary order); sorted keys make our output reproducible.
            json.Append("\"__metadata__\":{");
            bool first = true;
            foreach ((string key, string value) in metadata.OrderBy(p => p.Key, Comparer<string>.Create(CompareUtf8)))
            {
                json.Append(first ? "" : ",").Append(Quote(key)).Append(':').Append(Quote(value));
                first = false;
            }
            json.Append('}');
        }
        foreach (Entry e in entries)
        {
            json.Append(json.Length > 1 ? "," : "").Append(Quote(e.Name))
                .Append(":{\"dtype\":\"").Append(e.DType).Append("\",\"shape\":[")
                .AppendJoin(',', e.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))
                .Append("],\"data_offsets\":[")
                .Append(e.Begin.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(e.End.ToString(CultureInfo.InvariantCulture)).Append("]}");
        }
        json.Append('}');
        byte[] bytes = StrictUtf8.GetBytes(json.ToString());
        int padded = (bytes.Length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        bytes.CopyTo(header, 0);
        header.AsSpan(bytes.Length).Fill((byte)' ');
        return header;
    }

    /// <summary>serde_json's string escaping: quote, backslash and control characters only; everything else raw UTF-8.</summary>
    private static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Rust's <c>String</c> order: UTF-8 bytes, i.e. code points (UTF-16 ordinal order differs above U+D7FF).</summary>
    internal static int CompareUtf8(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return a is null ? (b is null ? 0 : -1) : 1;
        }
        StringRuneEnumerator x = a.EnumerateRunes(), y = b.EnumerateRunes();
        while (true)
        {
            bool hasX = x.MoveNext(), hasY = y.MoveNext();
            if (!hasX || !hasY)
            {
                return hasX.CompareTo(hasY);
            }
            int c = x.Current.Value.CompareTo(y.Current.Value);
            if (c != 0)
            {
                return c;
            }
        }
    }
}
