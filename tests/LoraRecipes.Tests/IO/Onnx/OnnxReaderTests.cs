using LoraRecipes.IO.Onnx;

namespace LoraRecipes.Tests.IO.Onnx;

/// <summary>The protobuf/ONNX reader on hand-encoded bytes: valid fields decode, hostile ones fail with the offset.</summary>
public sealed class OnnxReaderTests
{
    private static OnnxFormatException Refused(byte[] bytes) => Assert.Throws<OnnxFormatException>(() => OnnxReader.Read(bytes, "hostile.onnx"));

    private static byte[] Graph(params byte[][] parts) => OnnxBytes.Model(parts.SelectMany(p => p).ToArray());

    [Fact]
    public void ReadsNodesInitializersAndValues()
    {
        var model = OnnxReader.Read(Graph(
            Proto.Bytes(1, OnnxBytes.Node("mm", "MatMul", ["x", "w"], ["y"], OnnxBytes.IntAttr("k", -3))),
            Proto.Bytes(5, OnnxBytes.Tensor("w", [2, 3], [1, 2, 3, 4, 5, 6], raw: true)),
            Proto.Bytes(5, OnnxBytes.Tensor("b", [3], [7, 8, 9], raw: false)),
            Proto.Bytes(11, OnnxBytes.Value("x", 1)), Proto.Bytes(12, OnnxBytes.Value("y", 1))), "ok.onnx");
        Assert.Equal((8L, "tests", 17L), (model.IrVersion, model.ProducerName, model.Opsets[""]));
        var node = Assert.Single(model.Graph.Nodes);
        Assert.Equal(("mm", "MatMul", "x w", "y"), (node.Name, node.OpType, string.Join(' ', node.Inputs), string.Join(' ', node.Outputs)));
        Assert.Equal(-3, node.Attribute("k")!.I);
        Assert.Equal([1f, 2, 3, 4, 5, 6], model.Graph.Initializers[0].ToFloats("ok.onnx"));
        Assert.Equal([7f, 8, 9], model.Graph.Initializers[1].ToFloats("ok.onnx"));
        Assert.Equal(["x"], model.Graph.Inputs.Select(i => i.Name));
    }

    [Fact]
    public void UnknownFieldsAreSkipped()
    {
        byte[] unknown = [.. Proto.Int(99, 5), .. Proto.Str(98, "future"), .. Proto.Fixed32(97, 1f)];
        byte[] bytes = [.. unknown, .. Graph(Proto.Bytes(1, [.. unknown, .. OnnxBytes.Node("n", "Relu", ["a"], ["b"])]))];
        var model = OnnxReader.Read(bytes, "ok.onnx");
        Assert.Equal("Relu", model.Graph.Nodes[0].OpType);
    }

    [Fact]
    public void ALengthPastTheEndIsRefusedWithItsOffset()
    {
        // graph (field 7) claims 1,000,000 bytes after a 2-byte ir_version field; the error points at the length (byte 3).
        byte[] bytes = [.. Proto.Int(1, 8), .. Proto.Tag(7, 2), .. Proto.Varint(1_000_000), 1, 2, 3];
        var e = Refused(bytes);
        Assert.Equal(3, e.Offset);
        Assert.Contains("claims 1000000 bytes", e.Message);
        Assert.Contains("hostile.onnx", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x08 }, "ends inside a varint")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F }, "longer than 64 bits")]
    [InlineData(new byte[] { 0x0B }, "group")]                      // field 1, wire type 3 (start group)
    [InlineData(new byte[] { 0x0E }, "unknown wire type")]          // wire type 6
    [InlineData(new byte[] { 0x00 }, "out of range")]               // field number 0
    [InlineData(new byte[] { 0x08, 0x07 }, "no graph")]
    [InlineData(new byte[] { }, "empty")]
    [InlineData(new byte[] { 0x0A, 0x01, 0x00 }, "wire type 2, expected 0")]   // ir_version sent as bytes
    public void MalformedEncodingsAreTypedErrors(byte[] bytes, string problem) =>
        Assert.Contains(problem, Refused(bytes).Message);

    [Fact]
    public void PackedFloatsMustBeWholeFloats()
    {
        byte[] tensor = [.. Proto.PackedInts(1, [1]), .. Proto.Int(2, 1), .. Proto.Str(8, "f"), .. Proto.Bytes(4, [0, 0, 128])];
        Assert.Contains("not a multiple of 4", Refused(Graph(Proto.Bytes(5, tensor))).Message);
    }

    [Fact]
    public void HugeDimsAreRefusedBeforeAnyAllocation()
    {
        byte[] tensor = [.. Proto.PackedInts(1, [1L << 30, 1L << 30]), .. Proto.Int(2, 1), .. Proto.Str(8, "huge")];
        var e = Refused(Graph(Proto.Bytes(5, tensor)));
        Assert.Equal("huge", e.Node);
    }

    [Fact]
    public void RawDataThatDoesNotMatchTheDimsIsRefusedWhenRead()
    {
        var model = OnnxReader.Read(Graph(Proto.Bytes(5, OnnxBytes.Tensor("w", [4, 4], [1, 2, 3]))), "short.onnx");
        var e = Assert.Throws<OnnxFormatException>(() => model.Graph.Initializers[0].ToFloats("short.onnx"));
        Assert.Contains("need 64", e.Message);
    }

    [Fact]
    public void ExternalDataIsRefusedNamingTheTensor()
    {
        byte[] tensor = [.. Proto.PackedInts(1, [2]), .. Proto.Int(2, 1), .. Proto.Str(8, "encoder.weight"), .. Proto.Int(14, 1)];
        var e = Refused(Graph(Proto.Bytes(5, tensor)));
        Assert.Equal("encoder.weight", e.Node);
        Assert.Contains("external file", e.Message);
    }

    [Fact]
    public void SubGraphsNestOnlySoDeep()
    {
        // If → then_branch graph → If → … one level deeper than allowed.
        byte[] graph = Proto.Str(2, "leaf");
        for (int depth = 0; depth <= OnnxReader.MaxGraphDepth + 1; depth++)
        {
            byte[] attribute = [.. Proto.Str(1, "then_branch"), .. Proto.Bytes(6, graph), .. Proto.Int(20, 5)];
            graph = Proto.Bytes(1, OnnxBytes.Node($"if{depth}", "If", ["c"], ["o"], attribute));
        }
        Assert.Contains("nest deeper", Refused(OnnxBytes.Model(graph)).Message);
    }

    [Fact]
    public void InvalidUtf8InANameIsRefused()
    {
        byte[] node = [.. Proto.Bytes(4, [0xC3, 0x28])];
        Assert.Contains("not valid UTF-8", Refused(Graph(Proto.Bytes(1, node))).Message);
    }
}
