using System.Text;
using LoraRecipes.IO;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.IO;

/// <summary>
/// The bytes the writer produces, against layouts built by hand from the format description and the reference
/// implementation's rules (huggingface/safetensors tensor.rs <c>prepare</c>): u64 LE header length; compact JSON with
/// <c>__metadata__</c> first, then tensors in data order; spaces up to a multiple of 8; data ordered by descending
/// dtype alignment, then name.
/// </summary>
public class SafetensorsLayoutTests
{
    [Fact]
    public void TinyFileMatchesHandBuiltBytes()
    {
        using var dir = new TempDirectory();
        using Tensor a = tensor(new byte[] { 1, 2, 3 });
        using Tensor b = tensor(new[] { 1.5f, -2f });
        SafetensorsWriter.Write(dir.File("t.safetensors"), [new("a", a), new("b", b)], new Dictionary<string, string> { ["format"] = "pt" });

        // F32 is more aligned than U8, so "b" comes first although "a" sorts first by name.
        const string json = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}";
        Assert.Equal(138, json.Length);
        var expected = new List<byte> { 144, 0, 0, 0, 0, 0, 0, 0 };    // 138 rounded up to 144, little-endian u64
        expected.AddRange(Encoding.ASCII.GetBytes(json));
        expected.AddRange("      "u8.ToArray());                      // 6 spaces of padding
        expected.AddRange([0x00, 0x00, 0xC0, 0x3F]);                    // 1.5f
        expected.AddRange([0x00, 0x00, 0x00, 0xC0]);                    // -2.0f
        expected.AddRange([1, 2, 3]);                                   // a

        Assert.Equal(expected.ToArray(), File.ReadAllBytes(dir.File("t.safetensors")));
    }

    [Fact]
    public void SameDTypeSortsByName()
    {
        using var dir = new TempDirectory();
        using Tensor weight = tensor(new short[] { 7 });
        using Tensor bias = tensor(new short[] { -1, 256 });
        SafetensorsWriter.Write(dir.File("t.safetensors"), [new("x.weight", weight), new("x.bias", bias)]);

        const string json = "{\"x.bias\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]},"
            + "\"x.weight\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[4,6]}}";
        Assert.Equal(119, json.Length);
        var expected = new List<byte> { 120, 0, 0, 0, 0, 0, 0, 0 };
        expected.AddRange(Encoding.ASCII.GetBytes(json));
        expected.Add((byte)' ');
        expected.AddRange([0xFF, 0xFF, 0x00, 0x01, 0x07, 0x00]);       // -1, 256, 7 as little-endian i16

        Assert.Equal(expected.ToArray(), File.ReadAllBytes(dir.File("t.safetensors")));
    }

    [Fact]
    public void HeaderEscapesLikeSerdeJson()
    {
        using var dir = new TempDirectory();
        using Tensor v = tensor(new[] { true });
        SafetensorsWriter.Write(dir.File("t.safetensors"), [new("q\"\\\té<", v)]);

        byte[] bytes = File.ReadAllBytes(dir.File("t.safetensors"));
        int n = (int)BitConverter.ToUInt64(bytes, 0);
        string header = Encoding.UTF8.GetString(bytes, 8, n);
        // Only quote, backslash and control characters are escaped; non-ASCII and '<' stay raw UTF-8.
        Assert.StartsWith("{\"q\\\"\\\\\\té<\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", header);
        Assert.Equal(0, n % 8);
        using var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        Assert.Equal("q\"\\\té<", file.Tensors[0].Name);
    }
}
