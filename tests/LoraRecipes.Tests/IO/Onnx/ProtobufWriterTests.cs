using LoraRecipes.IO.Onnx;

namespace LoraRecipes.Tests.IO.Onnx;

/// <summary>The wire format against the hand-encoded examples of protobuf.dev's "Encoding" page.</summary>
public class ProtobufWriterTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    [Fact]
    public void Test1_A150_IsTheSpecsThreeBytes()
    {
        // message Test1 { optional int32 a = 1; } with a = 150 → 08 96 01: tag (1 << 3 | 0), then 150 = 0b1_0010110 as 96 01.
        Assert.Equal(Hex("08 96 01"), new ProtobufWriter().Varint(1, 150).ToArray());
    }

    [Fact]
    public void Test2_StringTesting_IsLengthDelimited()
    {
        // message Test2 { optional string b = 2; } with b = "testing" → 12 07 74 65 73 74 69 6e 67.
        Assert.Equal(Hex("12 07 74 65 73 74 69 6e 67"), new ProtobufWriter().String(2, "testing").ToArray());
    }

    [Fact]
    public void Test3_NestedMessage_IsItsBytesLengthPrefixed()
    {
        // message Test3 { optional Test1 c = 3; } with c.a = 150 → 1a 03 08 96 01.
        var test3 = new ProtobufWriter().Message(3, new ProtobufWriter().Varint(1, 150));
        Assert.Equal(5, test3.Size);
        Assert.Equal(Hex("1a 03 08 96 01"), test3.ToArray());
    }

    [Fact]
    public void PackedRepeated_IsOneLengthDelimitedRun()
    {
        // message Test5 { repeated int32 f = 6 [packed = true]; } with f = [3, 270, 86942] → 32 06 03 8e 02 9e a7 05.
        Assert.Equal(Hex("32 06 03 8e 02 9e a7 05"), new ProtobufWriter().PackedVarints(6, [3, 270, 86942]).ToArray());
        // Unpacked (proto2's default for onnx.proto's dims): the tag before every element.
        Assert.Equal(Hex("30 03 30 8e 02 30 9e a7 05"), new ProtobufWriter().Varints(6, [3, 270, 86942]).ToArray());
    }

    [Fact]
    public void NegativeInt64_IsTenBytesOfTwosComplement_AndFloatIsFourLittleEndianBytes()
    {
        // int64 -2 → ff ff ff ff ff ff ff ff ff 01 (the spec: "a negative int32 or int64 is always ten bytes").
        Assert.Equal(Hex("08 fe ff ff ff ff ff ff ff ff 01"), new ProtobufWriter().Varint(1, -2).ToArray());
        // float 1.0 = 0x3f800000, fixed32 (wire type 5): tag 0x15 for field 2.
        Assert.Equal(Hex("15 00 00 80 3f"), new ProtobufWriter().Float(2, 1f).ToArray());
        Assert.Equal(new ProtobufWriter().Varint(1, -2).Size, new ProtobufWriter().Varint(1, -2).ToArray().Length);
    }

    [Fact]
    public void StreamedBytes_WriteTheirDeclaredLength_OrFail()
    {
        var ok = new ProtobufWriter().Bytes(9, 3, s => s.Write([1, 2, 3]));
        Assert.Equal(Hex("4a 03 01 02 03"), ok.ToArray());
        var lying = new ProtobufWriter().Bytes(9, 3, s => s.Write([1, 2]));
        Assert.Throws<InvalidOperationException>(() => lying.ToArray());
    }

    [Theory]
    [InlineData(0UL, 1)]
    [InlineData(127UL, 1)]
    [InlineData(128UL, 2)]
    [InlineData(16383UL, 2)]
    [InlineData(16384UL, 3)]
    [InlineData(ulong.MaxValue, 10)]
    public void VarintSize_CountsSevenBitGroups(ulong value, int bytes)
    {
        Assert.Equal(bytes, ProtobufWriter.VarintSize(value));
        using var buffer = new MemoryStream();
        ProtobufWriter.WriteVarint(buffer, value);
        Assert.Equal(bytes, buffer.Length);
    }
}
