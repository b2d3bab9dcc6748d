using LoraRecipes.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.IO;

public class SafetensorsRoundTripTests
{
    /// <summary>Values with edge bit patterns (NaN, ±0, ±inf, subnormal, extremes) so "bit-identical" means something.</summary>
    private static Tensor Sample(ScalarType dtype)
    {
        var generator = new Generator(1234);
        return dtype switch
        {
            ScalarType.Bool => tensor(new[] { true, false, false, true, true, false }).reshape(2, 3),
            ScalarType.Byte => tensor(new byte[] { 0, 1, 127, 128, 254, 255 }).reshape(3, 2),
            ScalarType.Int8 => tensor(new sbyte[] { sbyte.MinValue, -1, 0, 1, sbyte.MaxValue, 42 }).reshape(2, 3),
            ScalarType.Int16 => tensor(new short[] { short.MinValue, -1, 0, 1, short.MaxValue, 1234 }),
            ScalarType.Int32 => tensor(new[] { int.MinValue, -1, 0, 1, int.MaxValue, 123456 }).reshape(1, 2, 3),
            ScalarType.Int64 => tensor(new[] { long.MinValue, -1L, 0L, 1L, long.MaxValue, 1L << 40 }),
            ScalarType.Float64 => cat([tensor(new[] { double.NaN, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, double.MaxValue }),
                randn(10, dtype: ScalarType.Float64, generator: generator)]).reshape(2, 8),
            _ => cat([tensor(new[] { float.NaN, -0.0f, float.PositiveInfinity, float.NegativeInfinity, 1e-40f, 65504f }),
                randn(26, generator: generator)]).reshape(4, 8).to_type(dtype),
        };
    }

    public static TheoryData<ScalarType> DTypes =>
    [
        ScalarType.Float64, ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    [Theory]
    [MemberData(nameof(DTypes))]
    public void EveryDTypeRoundTripsBitIdentical(ScalarType dtype)
    {
        using var dir = new TempDirectory();
        using Tensor original = Sample(dtype);
        SafetensorsWriter.Write(dir.File("t.safetensors"), [new("x", original)]);

        using var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        using Tensor read = file.ReadTensor("x");

        Assert.Equal(dtype, read.dtype);
        Assert.Equal(original.shape, read.shape);
        Assert.Equal(DeviceType.CPU, read.device_type);
        Assert.Equal(original.bytes.ToArray(), read.bytes.ToArray());
        Assert.Equal(original.bytes.ToArray(), file.ReadBytes("x"));
    }

    [Fact]
    public void Bf16StaysBf16AndConvertsOnlyOnRequest()
    {
        using var dir = new TempDirectory();
        using Tensor bf16 = tensor(new[] { 1.0f, -2.5f, 3.140625f, 1e30f }).to_type(ScalarType.BFloat16);
        SafetensorsWriter.Write(dir.File("t.safetensors"), [new("w", bf16)]);

        using var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        Assert.Equal(SafetensorsDType.BF16, file["w"].DType);
        using Tensor stored = file.ReadTensor("w");
        Assert.Equal(ScalarType.BFloat16, stored.dtype);
        using Tensor asFloat = file.ReadTensor("w", ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, asFloat.dtype);
        using Tensor expected = bf16.to_type(ScalarType.Float32);
        Assert.Equal(expected.data<float>().ToArray(), asFloat.data<float>().ToArray());
    }

    [Fact]
    public void ScalarsEmptyTensorsAndNonContiguousInputsRoundTrip()
    {
        using var dir = new TempDirectory();
        using Tensor scalar = tensor(3.5f);
        using Tensor empty = zeros(0, 4, dtype: ScalarType.Int32);
        using Tensor matrix = arange(12, dtype: ScalarType.Float32).reshape(3, 4);
        using Tensor transposed = matrix.t(); // not contiguous: must be written in C order of its own shape
        SafetensorsWriter.Write(dir.File("t.safetensors"), [new("s", scalar), new("e", empty), new("t", transposed)]);

        using var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        using Tensor s = file.ReadTensor("s");
        using Tensor e = file.ReadTensor("e");
        using Tensor t = file.ReadTensor("t");
        Assert.Empty(s.shape);
        Assert.Equal(3.5f, s.item<float>());
        Assert.Equal(new long[] { 0, 4 }, e.shape);
        Assert.Equal(new long[] { 4, 3 }, t.shape);
        Assert.Equal(transposed.contiguous().data<float>().ToArray(), t.data<float>().ToArray());
        Assert.Equal(new[] { 0f, 4f, 8f }, t[0].data<float>().ToArray()); // row 0 of the transpose = column 0 of the original
    }

    [Fact]
    public void MetadataAndInfoSurviveAndShapeCannotBeTamperedWith()
    {
        using var dir = new TempDirectory();
        using Tensor a = ones(2, 3);
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcödé \"quoted\"\n" };
        SafetensorsWriter.Write(dir.File("t.safetensors"), [new("a", a)], metadata);

        using var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        Assert.Equal(metadata, file.Metadata);
        SafetensorsTensorInfo info = Assert.Single(file.Tensors);
        Assert.Equal(("a", SafetensorsDType.F32, 0L, 24L, 6L), (info.Name, info.DType, info.Begin, info.End, info.ElementCount));
        info.Shape[0] = 1000; // a copy: the reader keeps the validated shape
        Assert.Equal(new long[] { 2, 3 }, file["a"].Shape);
        using Tensor read = file.ReadTensor("a");
        Assert.Equal(new long[] { 2, 3 }, read.shape);
        Assert.True(file.Contains("a"));
        Assert.False(file.Contains("b"));
        Assert.Throws<KeyNotFoundException>(() => file["b"]);
    }

    [Fact]
    public void WriterRefusesDuplicateReservedAndUnsupported()
    {
        using var dir = new TempDirectory();
        using Tensor a = ones(2);
        using Tensor complex = zeros(2, dtype: ScalarType.ComplexFloat32);
        string path = dir.File("t.safetensors");
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("a", a), new("a", a)]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("__metadata__", a)]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("c", complex)]));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void DisposedFileRefusesReads()
    {
        using var dir = new TempDirectory();
        using Tensor a = ones(2);
        SafetensorsWriter.Write(dir.File("t.safetensors"), [new("a", a)]);
        var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadTensor("a"));
    }
}
