using System.Text;

namespace LoraRecipes.Tests.IO.Onnx;

/// <summary>
/// Protobuf encoding written out by hand for the tests (field numbers from onnx.proto), so the reader is checked
/// against bytes it did not produce.
/// </summary>
internal static class Proto
{
    public static byte[] Varint(ulong v)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(v & 0x7F);
            v >>= 7;
            bytes.Add(v != 0 ? (byte)(b | 0x80) : b);
        } while (v != 0);
        return bytes.ToArray();
    }

    public static byte[] Tag(int field, int wire) => Varint(((ulong)field << 3) | (uint)wire);

    public static byte[] Int(int field, long value) => [.. Tag(field, 0), .. Varint(unchecked((ulong)value))];

    public static byte[] Bytes(int field, byte[] payload) => [.. Tag(field, 2), .. Varint((ulong)payload.Length), .. payload];

    public static byte[] Str(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));

    public static byte[] Msg(int field, params byte[][] parts) => Bytes(field, parts.SelectMany(p => p).ToArray());

    public static byte[] Fixed32(int field, float f) => [.. Tag(field, 5), .. BitConverter.GetBytes(f)];

    public static byte[] PackedInts(int field, IEnumerable<long> values) => Bytes(field, values.SelectMany(v => Varint(unchecked((ulong)v))).ToArray());
}

/// <summary>ONNX messages built from <see cref="Proto"/>.</summary>
internal static class OnnxBytes
{
    /// <summary>TensorProto (initializer or attribute value): dims, data_type, name, and raw_data or float_data.</summary>
    public static byte[] Tensor(string name, long[] dims, float[] values, bool raw = true) =>
    [
        .. Proto.PackedInts(1, dims), .. Proto.Int(2, 1), .. Proto.Str(8, name),
        .. (raw ? Proto.Bytes(9, values.SelectMany(BitConverter.GetBytes).ToArray()) : Proto.Bytes(4, values.SelectMany(BitConverter.GetBytes).ToArray())),
    ];

    public static byte[] Int64Tensor(string name, long[] values) =>
        [.. Proto.PackedInts(1, [values.Length]), .. Proto.Int(2, 7), .. Proto.Str(8, name), .. Proto.PackedInts(7, values)];

    /// <summary>NodeProto; attributes already encoded (see <see cref="IntAttr"/>, <see cref="FloatAttr"/>).</summary>
    public static byte[] Node(string name, string op, string[] inputs, string[] outputs, params byte[][] attributes) =>
    [
        .. inputs.SelectMany(i => Proto.Str(1, i)), .. outputs.SelectMany(o => Proto.Str(2, o)), .. Proto.Str(3, name), .. Proto.Str(4, op),
        .. attributes.SelectMany(a => Proto.Bytes(5, a)),
    ];

    public static byte[] IntAttr(string name, long value) => [.. Proto.Str(1, name), .. Proto.Int(3, value), .. Proto.Int(20, 2)];

    public static byte[] FloatAttr(string name, float value) => [.. Proto.Str(1, name), .. Proto.Fixed32(2, value), .. Proto.Int(20, 1)];

    /// <summary>ValueInfoProto of an int64 (B, T) input or a float output.</summary>
    public static byte[] Value(string name, int elementType) =>
        [.. Proto.Str(1, name), .. Proto.Msg(2, Proto.Msg(1, Proto.Int(1, elementType)))];

    /// <summary>ModelProto: ir_version 8, opset 17, producer, the graph.</summary>
    public static byte[] Model(byte[] graph) =>
        [.. Proto.Int(1, 8), .. Proto.Str(2, "tests"), .. Proto.Msg(8, Proto.Str(1, ""), Proto.Int(2, 17)), .. Proto.Bytes(7, graph)];
}
