using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.IO;

/// <summary>
/// Raw byte access to contiguous CPU tensors through TorchSharp's public <c>Tensor.bytes</c> span, in chunks, because
/// that span stops at 2 GiB. A chunk is a 1-D <c>narrow</c> view, whose data pointer already includes its offset.
/// </summary>
internal static class TensorBytes
{
    /// <summary>At most this many bytes per span (1 GiB).</summary>
    internal const long ChunkBytes = 1L << 30;

    /// <summary>Copies <paramref name="byteLength"/> bytes from <paramref name="source"/> into the contiguous CPU tensor <paramref name="destination"/>.</summary>
    internal static unsafe void CopyFrom(nint source, long byteLength, Tensor destination, long chunkBytes = ChunkBytes)
    {
        EnsureLittleEndian();
        long elementSize = destination.element_size();
        if (destination.numel() * elementSize != byteLength || !destination.is_contiguous() || destination.device_type != DeviceType.CPU)
        {
            throw new ArgumentException("The destination must be a contiguous CPU tensor of exactly the source's size.", nameof(destination));
        }
        if (byteLength == 0)
        {
            return;
        }
        using Tensor flat = destination.view(-1);
        long step = Math.Max(1, chunkBytes / elementSize);
        for (long start = 0; start < flat.shape[0]; start += step)
        {
            long count = Math.Min(step, flat.shape[0] - start);
            using Tensor chunk = flat.narrow(0, start, count);
            new ReadOnlySpan<byte>((byte*)source + start * elementSize, checked((int)(count * elementSize))).CopyTo(chunk.bytes);
        }
    }

    /// <summary>Writes the bytes of <paramref name="tensor"/> (any device, any layout) to <paramref name="stream"/> in C order.</summary>
    internal static void WriteTo(Tensor tensor, Stream stream, long chunkBytes = ChunkBytes)
    {
        EnsureLittleEndian();
        if (tensor.numel() == 0)
        {
            return;
        }
        using var scope = torch.NewDisposeScope();
        Tensor flat = tensor.detach().cpu().contiguous().view(-1);
        long elementSize = flat.element_size();
        long step = Math.Max(1, chunkBytes / elementSize);
        for (long start = 0; start < flat.shape[0]; start += step)
        {
            using Tensor chunk = flat.narrow(0, start, Math.Min(step, flat.shape[0] - start));
            stream.Write(chunk.bytes);
        }
    }

    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported.");
        }
    }
}
