using System.Buffers.Binary;
using System.Text;

namespace LoraRecipes.IO.Onnx;

/// <summary>Protobuf wire types (the low 3 bits of a field tag).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// A reader of protobuf's wire format over one message's bytes, for untrusted input. Every length is checked against
/// the bytes that remain before anything is sliced or allocated, so a lying length fails here instead of asking for
/// gigabytes; sub-messages are slices of the same buffer (no copies); groups (deprecated, and never used by ONNX) are
/// refused so that skipping a field never recurses. Errors carry the absolute byte offset in the file.
/// </summary>
/// <remarks>Wire format: each field is a varint tag <c>(field_number &lt;&lt; 3) | wire_type</c> then its payload.</remarks>
internal struct ProtobufReader
{
    private readonly ReadOnlyMemory<byte> _data;
    private readonly long _origin;
    private readonly string _file;
    private int _position;

    /// <param name="data">The message bytes.</param>
    /// <param name="origin">Offset of <paramref name="data"/> in the file (for error messages).</param>
    /// <param name="file">The file, for error messages.</param>
    public ProtobufReader(ReadOnlyMemory<byte> data, long origin, string file)
    {
        _data = data;
        _origin = origin;
        _file = file;
        _position = 0;
    }

    /// <summary>Absolute file offset of the next byte.</summary>
    public readonly long Offset => _origin + _position;

    /// <summary>True when the whole message has been read.</summary>
    public readonly bool AtEnd => _position >= _data.Length;

    /// <summary>Reads the next tag; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out WireType wire)
    {
        field = 0;
        wire = 0;
        if (AtEnd) return false;
        long at = Offset;
        ulong tag = ReadVarint();
        if (tag >> 3 is 0 or > 536_870_911) throw Error($"field number {tag >> 3} is out of range", at);
        field = (int)(tag >> 3);
        wire = (WireType)(tag & 7);
        if (wire is WireType.StartGroup or WireType.EndGroup) throw Error($"field {field} uses a protobuf group, which ONNX never writes", at);
        if ((int)wire > 5) throw Error($"field {field} has unknown wire type {(int)wire}", at);
        return true;
    }

    /// <summary>A base-128 varint: at most 10 bytes, the tenth holding only the top bit.</summary>
    public ulong ReadVarint()
    {
        long at = Offset;
        var span = _data.Span;
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= span.Length) throw Error("the file ends inside a varint", at);
            byte b = span[_position++];
            if (shift == 63 && b > 1) throw Error("varint longer than 64 bits", at);
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw Error("varint longer than 10 bytes", at);
    }

    /// <summary>An <c>int64</c>/<c>int32</c> field (two's complement in a varint).</summary>
    public long ReadInt64() => unchecked((long)ReadVarint());

    /// <summary>An <c>int32</c> field, checked to fit.</summary>
    public int ReadInt32(string what)
    {
        long at = Offset;
        long v = ReadInt64();
        return v is >= int.MinValue and <= int.MaxValue ? (int)v : throw Error($"{what} {v} does not fit in 32 bits", at);
    }

    /// <summary>A <c>float</c> field (fixed32, little-endian).</summary>
    public float ReadFloat() => BitConverter.Int32BitsToSingle((int)ReadFixed32());

    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "fixed32").Span);

    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "fixed64").Span);

    /// <summary>A length-delimited payload as a slice of the buffer, its length checked against what remains.</summary>
    public ReadOnlyMemory<byte> ReadBytes(out long payloadOffset)
    {
        long at = Offset;
        ulong length = ReadVarint();
        int remaining = _data.Length - _position;
        if (length > (ulong)remaining) throw Error($"a field claims {length} bytes but only {remaining} remain in its message", at);
        payloadOffset = Offset;
        return Take((int)length, "payload");
    }

    /// <summary>A length-delimited sub-message, as a reader over its bytes.</summary>
    public ProtobufReader ReadMessage()
    {
        var bytes = ReadBytes(out long at);
        return new ProtobufReader(bytes, at, _file);
    }

    /// <summary>A UTF-8 string field (invalid UTF-8 is an error, not a replacement character).</summary>
    public string ReadString(string what)
    {
        var bytes = ReadBytes(out long at);
        try
        {
            return StrictUtf8.GetString(bytes.Span);
        }
        catch (DecoderFallbackException)
        {
            throw Error($"{what} is not valid UTF-8", at);
        }
    }

    /// <summary>A repeated <c>int64</c> field, packed (one payload) or not (one value per tag), appended to <paramref name="values"/>.</summary>
    public void ReadInt64s(WireType wire, List<long> values)
    {
        if (wire == WireType.Varint)
        {
            values.Add(ReadInt64());
            return;
        }
        Expect(wire, WireType.LengthDelimited, "a repeated int64");
        var packed = ReadMessage();
        while (!packed.AtEnd) values.Add(packed.ReadInt64());   // each value takes ≥ 1 byte: bounded by the payload
    }

    /// <summary>A repeated <c>float</c> field, packed or not.</summary>
    public void ReadFloats(WireType wire, List<float> values)
    {
        if (wire == WireType.Fixed32)
        {
            values.Add(ReadFloat());
            return;
        }
        Expect(wire, WireType.LengthDelimited, "a repeated float");
        var bytes = ReadBytes(out long at);
        if (bytes.Length % 4 != 0) throw Error($"packed floats take {bytes.Length} bytes, not a multiple of 4", at);
        var span = bytes.Span;
        values.EnsureCapacity(values.Count + bytes.Length / 4);
        for (int i = 0; i < span.Length; i += 4) values.Add(BinaryPrimitives.ReadSingleLittleEndian(span[i..]));
    }

    /// <summary>A repeated <c>double</c> field, packed or not.</summary>
    public void ReadDoubles(WireType wire, List<double> values)
    {
        if (wire == WireType.Fixed64)
        {
            values.Add(BitConverter.Int64BitsToDouble((long)ReadFixed64()));
            return;
        }
        Expect(wire, WireType.LengthDelimited, "a repeated double");
        var bytes = ReadBytes(out long at);
        if (bytes.Length % 8 != 0) throw Error($"packed doubles take {bytes.Length} bytes, not a multiple of 8", at);
        var span = bytes.Span;
        for (int i = 0; i < span.Length; i += 8) values.Add(BinaryPrimitives.ReadDoubleLittleEndian(span[i..]));
    }

    /// <summary>Skips a field of a number this reader does not use (unknown fields are legal protobuf).</summary>
    public void Skip(WireType wire)
    {
        switch (wire)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Take(8, "fixed64"); break;
            case WireType.Fixed32: Take(4, "fixed32"); break;
            case WireType.LengthDelimited: ReadBytes(out _); break;
            default: throw Error($"cannot skip wire type {(int)wire}", Offset);
        }
    }

    /// <summary>Fails unless the field has the wire type its schema declares.</summary>
    public readonly void Expect(WireType actual, WireType expected, string what)
    {
        if (actual != expected) throw Error($"{what} has wire type {(int)actual}, expected {(int)expected}", Offset);
    }

    /// <summary>An error at <paramref name="offset"/> in this reader's file.</summary>
    public readonly OnnxFormatException Error(string problem, long offset, string? node = null) => new(_file, problem, offset, node);

    private ReadOnlyMemory<byte> Take(int count, string what)
    {
        if (count > _data.Length - _position) throw Error($"the message ends inside a {what}", Offset);
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
