using System.Text;

namespace LoraRecipes.IO.Onnx;

/// <summary>
/// One protobuf message, built field by field and written in the wire format
/// (protobuf.dev, "Encoding"): before each field a tag varint <c>(field_number &lt;&lt; 3) | wire_type</c>, then
/// wire type 0 — a base-128 varint, low 7 bits first, high bit set on every byte but the last (int32, int64, enum;
/// a negative value is its 64-bit two's complement, 10 bytes); wire type 5 — 4 little-endian bytes (float);
/// wire type 2 — a varint byte length then the bytes (string, bytes, a nested message, a packed repeated field).
/// </summary>
/// <remarks>
/// Fields are written in the order they were added. A nested message's length is computed before it is written, and
/// a bytes field can be produced by a callback that streams its payload, so a model's weights go from the tensors to
/// the file once, never through an intermediate buffer of the whole message.
/// </remarks>
public sealed class ProtobufWriter
{
    private enum Kind { Varint, Fixed32, Bytes, Stream, Message }

    private readonly record struct Field(int Number, Kind Kind, ulong Value, byte[]? Bytes, long Length, Action<Stream>? Write, ProtobufWriter? Message);

    private const int VarintWire = 0, LengthDelimitedWire = 2, Fixed32Wire = 5;
    private readonly List<Field> _fields = [];
    private long _size = -1;

    /// <summary>An int32/int64/enum/bool field (wire type 0); negative values take 10 bytes, as protobuf's int64 does.</summary>
    public ProtobufWriter Varint(int field, long value) => Add(new Field(field, Kind.Varint, unchecked((ulong)value), null, 0, null, null));

    /// <summary>Each value as its own varint field with the same number: an unpacked repeated int64 (proto2's default).</summary>
    public ProtobufWriter Varints(int field, IEnumerable<long> values)
    {
        foreach (long v in values) Varint(field, v);
        return this;
    }

    /// <summary>A packed repeated int64 field: one length-delimited field holding the varints back to back.</summary>
    public ProtobufWriter PackedVarints(int field, IReadOnlyList<long> values)
    {
        using var buffer = new MemoryStream();
        foreach (long v in values) WriteVarint(buffer, unchecked((ulong)v));
        return Bytes(field, buffer.ToArray());
    }

    /// <summary>A float field (wire type 5: IEEE 754 single, little-endian).</summary>
    public ProtobufWriter Float(int field, float value) =>
        Add(new Field(field, Kind.Fixed32, BitConverter.SingleToUInt32Bits(value), null, 0, null, null));

    /// <summary>A string field: UTF-8 bytes, length-delimited.</summary>
    public ProtobufWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A bytes field (length-delimited).</summary>
    public ProtobufWriter Bytes(int field, byte[] value) => Add(new Field(field, Kind.Bytes, 0, value, value.Length, null, null));

    /// <summary>A bytes field of exactly <paramref name="length"/> bytes that <paramref name="write"/> streams when the message is written.</summary>
    public ProtobufWriter Bytes(int field, long length, Action<Stream> write)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return Add(new Field(field, Kind.Stream, 0, null, length, write, null));
    }

    /// <summary>A nested message field (length-delimited). The nested message must not change afterwards.</summary>
    public ProtobufWriter Message(int field, ProtobufWriter message) => Add(new Field(field, Kind.Message, 0, null, 0, null, message));

    /// <summary>Encoded size in bytes of this message's fields (without any tag or length of its own).</summary>
    public long Size
    {
        get
        {
            if (_size >= 0) return _size;
            long size = 0;
            foreach (var f in _fields) size += VarintSize(Tag(f)) + PayloadSize(f);
            return _size = size;
        }
    }

    /// <summary>Writes the message to <paramref name="stream"/>; fails if a streamed field wrote another length than it declared.</summary>
    public void WriteTo(Stream stream)
    {
        Span<byte> four = stackalloc byte[4];
        foreach (var f in _fields)
        {
            WriteVarint(stream, Tag(f));
            switch (f.Kind)
            {
                case Kind.Varint:
                    WriteVarint(stream, f.Value);
                    break;
                case Kind.Fixed32:
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(four, (uint)f.Value);
                    stream.Write(four);
                    break;
                case Kind.Bytes:
                    WriteVarint(stream, (ulong)f.Bytes!.Length);
                    stream.Write(f.Bytes);
                    break;
                case Kind.Stream:
                    WriteVarint(stream, (ulong)f.Length);
                    WriteStreamed(stream, f);
                    break;
                case Kind.Message:
                    WriteVarint(stream, (ulong)f.Message!.Size);
                    f.Message.WriteTo(stream);
                    break;
            }
        }
    }

    /// <summary>The message's bytes (small messages and tests).</summary>
    public byte[] ToArray()
    {
        using var buffer = new MemoryStream();
        WriteTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>Bytes a varint of <paramref name="value"/> takes: one per started group of 7 bits, at least one.</summary>
    public static int VarintSize(ulong value)
    {
        int n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }
        return n;
    }

    /// <summary>Writes <paramref name="value"/> as a base-128 varint.</summary>
    public static void WriteVarint(Stream stream, ulong value)
    {
        Span<byte> buffer = stackalloc byte[10];
        int n = 0;
        while (value >= 0x80)
        {
            buffer[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[n++] = (byte)value;
        stream.Write(buffer[..n]);
    }

    private ProtobufWriter Add(Field field)
    {
        if (field.Number is < 1 or > (1 << 29) - 1) throw new ArgumentOutOfRangeException(nameof(field), field.Number, "protobuf field numbers are 1 .. 2^29-1");
        _fields.Add(field);
        _size = -1;
        return this;
    }

    private static ulong Tag(Field f) => ((ulong)f.Number << 3) | (ulong)(f.Kind switch
    {
        Kind.Varint => VarintWire,
        Kind.Fixed32 => Fixed32Wire,
        _ => LengthDelimitedWire,
    });

    private static long PayloadSize(Field f) => f.Kind switch
    {
        Kind.Varint => VarintSize(f.Value),
        Kind.Fixed32 => 4,
        Kind.Bytes or Kind.Stream => VarintSize((ulong)f.Length) + f.Length,
        _ => VarintSize((ulong)f.Message!.Size) + f.Message.Size,
    };

    private static void WriteStreamed(Stream stream, Field f)
    {
        long before = stream.CanSeek ? stream.Position : -1;
        f.Write!(stream);
        if (before >= 0 && stream.Position - before != f.Length)
            throw new InvalidOperationException($"field {f.Number} declared {f.Length} bytes but wrote {stream.Position - before}");
    }
}
