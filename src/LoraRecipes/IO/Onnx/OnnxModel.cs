using System.Buffers.Binary;

namespace LoraRecipes.IO.Onnx;

// The subset of onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) that
// importing a model needs, as immutable records. Field numbers live in OnnxReader.

/// <summary>ModelProto: the IR version, the producer, the opsets and the graph.</summary>
public sealed record OnnxModel(long IrVersion, string ProducerName, string ProducerVersion, IReadOnlyDictionary<string, long> Opsets, OnnxGraph Graph);

/// <summary>GraphProto: nodes in topological order, initializers (the weights), the graph's inputs and outputs.</summary>
public sealed record OnnxGraph(string Name, IReadOnlyList<OnnxNode> Nodes, IReadOnlyList<OnnxTensor> Initializers,
    IReadOnlyList<OnnxValueInfo> Inputs, IReadOnlyList<OnnxValueInfo> Outputs);

/// <summary>
/// NodeProto: one operator application. <c>Name</c> may be empty in valid ONNX; <c>Domain</c> "" is standard ONNX
/// ("ai.onnx" is read as "").
/// </summary>
public sealed record OnnxNode(string Name, string OpType, string Domain, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyList<OnnxAttribute> Attributes)
{
    /// <summary>How errors name the node: its name and op type, or its first output when it has no name.</summary>
    public string Describe() => Name.Length > 0 ? $"node '{Name}' ({OpType})" : $"{OpType} node producing '{Outputs.FirstOrDefault()}'";

    /// <summary>The attribute called <paramref name="name"/>, if present.</summary>
    public OnnxAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);
}

/// <summary>AttributeProto: the scalar, list, tensor or sub-graph forms an operator's attributes take.</summary>
public sealed record OnnxAttribute(string Name, int Type, float F, long I, string? S, OnnxTensor? T, IReadOnlyList<float> Floats,
    IReadOnlyList<long> Ints, IReadOnlyList<OnnxGraph> Graphs);

/// <summary>ValueInfoProto: a graph input or output, with its element type and shape when given (-1: symbolic).</summary>
public sealed record OnnxValueInfo(string Name, int ElementType, IReadOnlyList<long>? Shape);

/// <summary>
/// TensorProto: dims, element type and the data, either <c>raw_data</c> (little-endian bytes, a slice of the file) or
/// one of the typed repeated fields. External data is refused when the file is read.
/// </summary>
public sealed record OnnxTensor(string Name, int DataType, IReadOnlyList<long> Dims, ReadOnlyMemory<byte> RawData, bool HasRawData,
    IReadOnlyList<float> FloatData, IReadOnlyList<long> Int64Data, IReadOnlyList<long> Int32Data, IReadOnlyList<double> DoubleData)
{
    /// <summary>TensorProto.DataType values used here.</summary>
    public const int Float = 1, Int32 = 6, Int64 = 7, Double = 11;

    /// <summary>Number of elements (1 for a scalar); dims were checked non-negative and bounded when read.</summary>
    public long ElementCount => Dims.Aggregate(1L, (n, d) => n * d);

    /// <summary>The values of a FLOAT tensor, checked against its dims.</summary>
    public float[] ToFloats(string file)
    {
        if (DataType != Float) throw new OnnxFormatException(file, $"tensor '{Name}' has data type {DataType}; a float32 (1) tensor was expected.", node: Name);
        long count = ElementCount;
        if (HasRawData)
        {
            if (RawData.Length != count * 4) throw new OnnxFormatException(file, $"tensor '{Name}' has {RawData.Length} raw bytes; its dims [{string.Join(", ", Dims)}] need {count * 4}.", node: Name);
            var values = new float[count];
            var span = RawData.Span;
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(span[(i * 4)..]);
            return values;
        }
        if (FloatData.Count != count) throw new OnnxFormatException(file, $"tensor '{Name}' has {FloatData.Count} float_data values; its dims [{string.Join(", ", Dims)}] need {count}.", node: Name);
        return FloatData.ToArray();
    }

    /// <summary>The values of an integer or float tensor as doubles (small constants: shapes, scales, epsilons).</summary>
    public double[] ToDoubles(string file)
    {
        long count = ElementCount;
        if (count > 1 << 20) throw new OnnxFormatException(file, $"tensor '{Name}' is too large to read as a constant.", node: Name);
        if (!HasRawData)
        {
            IEnumerable<double> typed = DataType switch
            {
                Float => FloatData.Select(f => (double)f),
                Int64 => Int64Data.Select(v => (double)v),
                Int32 => Int32Data.Select(v => (double)v),
                Double => DoubleData,
                _ => throw new OnnxFormatException(file, $"constant '{Name}' has unsupported data type {DataType}.", node: Name),
            };
            var list = typed.ToArray();
            return list.Length == count ? list : throw new OnnxFormatException(file, $"constant '{Name}' has {list.Length} values; its dims need {count}.", node: Name);
        }
        int size = DataType switch { Float or Int32 => 4, Int64 or Double => 8, _ => 0 };
        if (size == 0) throw new OnnxFormatException(file, $"constant '{Name}' has unsupported data type {DataType}.", node: Name);
        if (RawData.Length != count * size) throw new OnnxFormatException(file, $"constant '{Name}' has {RawData.Length} raw bytes; its dims need {count * size}.", node: Name);
        var span = RawData.Span;
        var result = new double[count];
        for (int i = 0; i < result.Length; i++)
        {
            var at = span[(i * size)..];
            result[i] = DataType switch
            {
                Float => BinaryPrimitives.ReadSingleLittleEndian(at),
                Int32 => BinaryPrimitives.ReadInt32LittleEndian(at),
                Int64 => BinaryPrimitives.ReadInt64LittleEndian(at),
                _ => BinaryPrimitives.ReadDoubleLittleEndian(at),
            };
        }
        return result;
    }
}
