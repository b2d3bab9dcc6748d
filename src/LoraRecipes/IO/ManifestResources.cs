using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace LoraRecipes.IO;

/// <summary>
/// Reads a manifest resource embedded in a .NET assembly file without loading the assembly: the metadata names the
/// resource and its offset in the CLI resources directory, where it is stored as a 4-byte little-endian length
/// followed by the bytes (ECMA-335 II.24.2.4). No code from the assembly runs.
/// </summary>
public static class ManifestResources
{
    /// <summary>The names of the resources embedded in <paramref name="assemblyPath"/>.</summary>
    public static IReadOnlyList<string> Names(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        return metadata.ManifestResources.Select(h => metadata.GetString(metadata.GetManifestResource(h).Name)).ToList();
    }

    /// <summary>Copies the embedded resource <paramref name="name"/> into <paramref name="destination"/>; returns its length.</summary>
    /// <exception cref="InvalidDataException">The assembly has no such embedded resource, or its bounds lie outside the file.</exception>
    public static long CopyTo(string assemblyPath, string name, Stream destination)
    {
        using var stream = File.OpenRead(assemblyPath);
        long start, directorySize;
        ManifestResource resource;
        using (var pe = new PEReader(stream, PEStreamOptions.LeaveOpen))
        {
            var metadata = pe.GetMetadataReader();
            var handle = metadata.ManifestResources.FirstOrDefault(h => metadata.GetString(metadata.GetManifestResource(h).Name) == name);
            if (handle.IsNil) throw new InvalidDataException($"'{assemblyPath}' embeds no resource '{name}'.");
            resource = metadata.GetManifestResource(handle);
            if (!resource.Implementation.IsNil) throw new InvalidDataException($"resource '{name}' of '{assemblyPath}' lives in another file.");
            var directory = pe.PEHeaders.CorHeader?.ResourcesDirectory ?? default;
            if (!pe.PEHeaders.TryGetDirectoryOffset(directory, out int directoryOffset))
                throw new InvalidDataException($"'{assemblyPath}' has no resources directory.");
            if (resource.Offset < 0 || resource.Offset + 4L > directory.Size)
                throw new InvalidDataException($"resource '{name}' of '{assemblyPath}' points outside its resources directory.");
            start = directoryOffset + resource.Offset;
            directorySize = directory.Size;
        }
        Span<byte> prefix = stackalloc byte[4];
        stream.Position = start;
        stream.ReadExactly(prefix);
        long length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (resource.Offset + 4L + length > directorySize || start + 4 + length > stream.Length)
            throw new InvalidDataException($"resource '{name}' of '{assemblyPath}' runs past the end of its resources directory.");
        var buffer = new byte[1 << 16];
        for (long left = length; left > 0;)
        {
            int n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0) throw new EndOfStreamException($"'{assemblyPath}' ended inside resource '{name}'.");
            destination.Write(buffer, 0, n);
            left -= n;
        }
        return length;
    }
}
