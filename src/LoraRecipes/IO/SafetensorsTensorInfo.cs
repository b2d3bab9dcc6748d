namespace LoraRecipes.IO;

/// <summary>One validated header entry: where a tensor's bytes lie in the data section and how to read them.</summary>
public sealed class SafetensorsTensorInfo
{
    private readonly long[] _shape;

    internal SafetensorsTensorInfo(string name, SafetensorsDType dtype, long[] shape, long begin, long end)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        Begin = begin;
        End = end;
    }

    /// <summary>The tensor's name in the header.</summary>
    public string Name { get; }

    /// <summary>The stored element type.</summary>
    public SafetensorsDType DType { get; }

    /// <summary>The shape (row-major); a fresh copy on each call.</summary>
    public long[] Shape => (long[])_shape.Clone();

    /// <summary>First byte, relative to the start of the data section (just after the header).</summary>
    public long Begin { get; }

    /// <summary>One past the last byte, relative to the start of the data section.</summary>
    public long End { get; }

    /// <summary><see cref="End"/> − <see cref="Begin"/>: always the element count times the element size.</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount => ByteLength / DType.ElementSize();

    /// <summary>The validated shape itself, for readers in this assembly that must not be fooled by a caller's edit.</summary>
    internal ReadOnlySpan<long> ShapeSpan => _shape;

    public override string ToString() => $"{Name}: {DType}[{string.Join(", ", _shape)}] @ [{Begin}, {End})";
}
