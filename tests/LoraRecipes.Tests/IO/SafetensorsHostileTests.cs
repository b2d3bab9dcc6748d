using System.Buffers.Binary;
using System.Text;
using LoraRecipes.IO;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.IO;

/// <summary>
/// Untrusted headers, built byte by byte here: each must be refused with a <see cref="SafetensorsFormatException"/>
/// naming the file and the problem, never an IndexOutOfRange/Overflow/JsonException or a crash.
/// </summary>
public class SafetensorsHostileTests
{
    /// <summary>8-byte LE length (the true one unless <paramref name="declared"/>), the header, then the data.</summary>
    private static byte[] Build(string json, int dataBytes = 0, ulong? declared = null) => Build(Encoding.UTF8.GetBytes(json), dataBytes, declared);

    private static byte[] Build(byte[] header, int dataBytes = 0, ulong? declared = null)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declared ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    private static string Entry(string name, string dtype, string shape, string offsets) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}";

    public static TheoryData<string, byte[], string> Cases => new()
    {
        { "empty file", [], "0 bytes, shorter than the 8-byte header length" },
        { "3-byte file", [1, 2, 3], "3 bytes, shorter than the 8-byte header length" },
        { "header length beyond file", Build("{}", declared: 1000), "header length 1000 goes beyond the end of the file (10 bytes)" },
        { "header length 100 MB + 1", Build("{}", declared: 100_000_001), "header length 100000001 exceeds" },
        { "header length 2^64-1", Build("{}", declared: ulong.MaxValue), "header length 18446744073709551615 exceeds" },
        { "not JSON", Build("hello world"), "not valid JSON" },
        { "truncated JSON", Build("{\"a\":{\"dtype\":"), "not valid JSON" },
        { "invalid UTF-8", Build([(byte)'{', 0xFF, 0xFE, (byte)'}']), "not valid UTF-8" },
        { "array root", Build("[1,2]"), "the header JSON is an array, not an object" },
        { "nesting bomb", Build(new string('[', 5000) + new string(']', 5000)), "not valid JSON" },
        { "entry not object", Build("{\"a\":5}"), "tensor 'a': the entry is a number, not an object" },
        { "missing dtype", Build("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tensor 'a': missing field 'dtype'" },
        { "missing shape", Build("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "tensor 'a': missing field 'shape'" },
        { "missing offsets", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "tensor 'a': missing field 'data_offsets'" },
        { "dtype not string", Build("{" + Entry("a", "F32", "[1]", "[0,4]").Replace("\"F32\"", "5") + "}", 4), "'dtype' is a number, not a string" },
        { "unknown dtype", Build("{" + Entry("a", "F8_E4M3", "[4]", "[0,4]") + "}", 4), "tensor 'a': unknown dtype 'F8_E4M3'" },
        { "lowercase dtype", Build("{" + Entry("a", "f32", "[1]", "[0,4]") + "}", 4), "unknown dtype 'f32'" },
        { "shape not array", Build("{" + Entry("a", "F32", "\"1\"", "[0,4]") + "}", 4), "'shape' is a string, not an array" },
        { "negative dim", Build("{" + Entry("a", "F32", "[-1]", "[0,4]") + "}", 4), "'shape'[0] is -1, not a non-negative integer" },
        { "fractional dim", Build("{" + Entry("a", "F32", "[1.5]", "[0,4]") + "}", 4), "'shape'[0] is 1.5, not a non-negative integer" },
        { "dim beyond 2^63", Build("{" + Entry("a", "U8", "[18446744073709551615]", "[0,4]") + "}", 4), "'shape'[0] is 18446744073709551615" },
        { "shape product overflow", Build("{" + Entry("a", "F32", "[4294967296,4294967296]", "[0,4]") + "}", 4), "tensor 'a': shape [4294967296, 4294967296] overflows" },
        { "overflow before a zero dim", Build("{" + Entry("a", "F32", "[4294967296,4294967296,0]", "[0,0]") + "}"), "overflows" },
        { "absurd rank", Build("{" + Entry("a", "U8", "[" + string.Join(",", Enumerable.Repeat(1, 65)) + "]", "[0,1]") + "}", 1), "shape has 65 dimensions, more than the 64 allowed" },
        { "one offset", Build("{" + Entry("a", "F32", "[1]", "[0]") + "}", 4), "'data_offsets' has 1 elements, expected 2" },
        { "offsets not numbers", Build("{" + Entry("a", "F32", "[1]", "[\"0\",\"4\"]") + "}", 4), "'data_offsets'[0] is \"0\"" },
        { "end before begin", Build("{" + Entry("a", "F32", "[1]", "[8,4]") + "}", 8), "tensor 'a': data_offsets [8, 4] end before they begin" },
        { "offsets out of range", Build("{" + Entry("a", "F32", "[250]", "[0,1000]") + "}", 4), "tensor 'a': data_offsets [0, 1000] lie outside the data section (4 bytes)" },
        { "size/shape mismatch", Build("{" + Entry("a", "F32", "[3]", "[0,8]") + "}", 8), "tensor 'a': data_offsets [0, 8] span 8 bytes but F32[3] needs 12" },
        {
            "overlap", Build("{" + Entry("a", "F32", "[2]", "[0,8]") + "," + Entry("b", "F32", "[2]", "[4,12]") + "}", 12),
            "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"
        },
        {
            "same range twice", Build("{" + Entry("a", "F32", "[1]", "[0,4]") + "," + Entry("b", "F32", "[1]", "[0,4]") + "}", 8),
            "overlap tensor"
        },
        {
            "hole", Build("{" + Entry("a", "F32", "[1]", "[0,4]") + "," + Entry("b", "F32", "[1]", "[8,12]") + "}", 12),
            "tensor 'b': data_offsets [8, 12] leave a hole: bytes [4, 8)"
        },
        { "hole at start", Build("{" + Entry("a", "F32", "[1]", "[4,8]") + "}", 8), "leave a hole: bytes [0, 4)" },
        { "trailing bytes", Build("{" + Entry("a", "F32", "[1]", "[0,4]") + "}", 8), "the tensors cover 4 bytes but the data section is 8 bytes" },
        { "duplicate tensor", Build("{" + Entry("a", "F32", "[1]", "[0,4]") + "," + Entry("a", "F32", "[1]", "[4,8]") + "}", 8), "duplicate key 'a'" },
        { "duplicate field", Build("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tensor 'a': duplicate field 'dtype'" },
        { "metadata not object", Build("{\"__metadata__\":[]}"), "'__metadata__' is an array" },
        { "metadata value not string", Build("{\"__metadata__\":{\"total\":3}}"), "'__metadata__' value 'total' is a number, not a string" },
        { "duplicate metadata", Build("{\"__metadata__\":{},\"__metadata__\":{}}"), "duplicate key '__metadata__'" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void HostileHeaderIsRefused(string scenario, byte[] bytes, string expectedProblem)
    {
        using var dir = new TempDirectory();
        string path = dir.File(scenario.Replace(' ', '-').Replace('/', '-') + ".safetensors");
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());

        Assert.Contains(expectedProblem, e.Message);
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void WellFormedHandBuiltFileIsAccepted()
    {
        // The hostile cases above are only meaningful if their valid neighbour parses.
        using var dir = new TempDirectory();
        byte[] bytes = Build("{" + Entry("a", "F32", "[1]", "[0,4]") + "," + Entry("e", "F32", "[0,3]", "[4,4]") + "," + Entry("b", "I8", "[]", "[4,5]") + "}  ", 5);
        bytes[^5..^1].AsSpan().Clear();
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(bytes.Length - 5), 2.5f);
        bytes[^1] = unchecked((byte)-3);
        File.WriteAllBytes(dir.File("ok.safetensors"), bytes);

        using var file = SafetensorsFile.Open(dir.File("ok.safetensors"));
        using Tensor a = file.ReadTensor("a");
        using Tensor b = file.ReadTensor("b");
        using Tensor e = file.ReadTensor("e");
        Assert.Equal(2.5f, a[0].item<float>());
        Assert.Equal((sbyte)-3, b.item<sbyte>());
        Assert.Equal(new long[] { 0, 3 }, e.shape);
        Assert.Equal(["a", "e", "b"], file.Tensors.Select(t => t.Name));
    }

    /// <summary>Random corruption of a valid file must give a valid parse or a format error — nothing else.</summary>
    [Fact]
    public void RandomMutationsOnlyEverParseOrRaiseFormatErrors()
    {
        using var dir = new TempDirectory();
        string source = dir.File("valid.safetensors");
        using (Tensor w = arange(12, dtype: ScalarType.Float32).reshape(3, 4))
        using (Tensor h = ones(5, dtype: ScalarType.BFloat16))
        using (Tensor ids = tensor(new long[] { 1, 2, 3 }))
        using (Tensor flag = tensor(new[] { true, false }))
        {
            SafetensorsWriter.Write(source, [new("w", w), new("h", h), new("ids", ids), new("flag", flag)],
                new Dictionary<string, string> { ["format"] = "pt" });
        }
        byte[] valid = File.ReadAllBytes(source);
        int headerEnd = 8 + (int)BitConverter.ToUInt64(valid, 0);
        var random = new Random(20240607);
        string path = dir.File("mutant.safetensors");
        int parsed = 0, refused = 0;

        for (int i = 0; i < 2000; i++)
        {
            byte[] mutant = Mutate(valid, headerEnd, random);
            File.WriteAllBytes(path, mutant);
            try
            {
                using var file = SafetensorsFile.Open(path);
                foreach (SafetensorsTensorInfo info in file.Tensors)
                {
                    using Tensor t = file.ReadTensor(info.Name);
                    Assert.Equal(info.ElementCount, t.numel());
                }
                parsed++;
            }
            catch (SafetensorsFormatException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {i} raised {e.GetType().Name}: {e.Message}\n{Convert.ToHexString(mutant)}");
            }
        }
        Assert.True(parsed > 0 && refused > 0, $"parsed {parsed}, refused {refused}: the mutations should exercise both outcomes");
    }

    private static byte[] Mutate(byte[] valid, int headerEnd, Random random)
    {
        var bytes = new List<byte>(valid);
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits; e++)
        {
            // Mostly the header, where validation lives; sometimes anywhere.
            int limit = random.Next(4) == 0 ? bytes.Count : Math.Min(headerEnd, bytes.Count);
            int at = random.Next(Math.Max(1, limit));
            switch (random.Next(6))
            {
                case 0 when bytes.Count > 0: bytes[at % bytes.Count] ^= (byte)(1 << random.Next(8)); break;
                case 1 when bytes.Count > 0: bytes[at % bytes.Count] = (byte)random.Next(256); break;
                case 2 when bytes.Count > 0: bytes[at % bytes.Count] = (byte)"{}[]\",:0123456789-e. \\"[random.Next(22)]; break;
                case 3: bytes.Insert(Math.Min(at, bytes.Count), (byte)random.Next(256)); break;
                case 4 when bytes.Count > 0: bytes.RemoveAt(at % bytes.Count); break;
                case 5: bytes.RemoveRange(Math.Min(at, bytes.Count), bytes.Count - Math.Min(at, bytes.Count)); break;
            }
        }
        return bytes.ToArray();
    }
}
