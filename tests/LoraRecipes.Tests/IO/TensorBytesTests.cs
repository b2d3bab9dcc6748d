using System.Runtime.InteropServices;
using LoraRecipes.IO;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.IO;

/// <summary>The chunked copies that carry tensors past Span's 2 GiB limit, exercised with tiny chunks.</summary>
public class TensorBytesTests
{
    [Theory]
    [InlineData(1)]   // smaller than an element: one element per chunk
    [InlineData(12)]  // not a multiple of the element size
    [InlineData(1 << 20)]
    public void ChunkedCopiesMatchTheWholeTensor(long chunkBytes)
    {
        using Tensor source = arange(37, dtype: ScalarType.Float64).reshape(37, 1) * 1.5;
        byte[] expected = source.bytes.ToArray();

        using var stream = new MemoryStream();
        using (Tensor transposedTwice = source.t().t())
        {
            TensorBytes.WriteTo(transposedTwice, stream, chunkBytes);
        }
        Assert.Equal(expected, stream.ToArray());

        using Tensor destination = empty(37, 1, dtype: ScalarType.Float64);
        var pinned = GCHandle.Alloc(expected, GCHandleType.Pinned);
        try
        {
            TensorBytes.CopyFrom(pinned.AddrOfPinnedObject(), expected.Length, destination, chunkBytes);
        }
        finally
        {
            pinned.Free();
        }
        Assert.Equal(expected, destination.bytes.ToArray());
    }
}
