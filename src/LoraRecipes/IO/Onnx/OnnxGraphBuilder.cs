using System.Globalization;
using static TorchSharp.torch;

namespace LoraRecipes.IO.Onnx;

/// <summary>
/// Builds an ONNX <c>GraphProto</c> (onnx.proto: node = 1, name = 2, initializer = 5, input = 11, output = 12) in
/// topological order: inputs, initializers (constant tensors, little-endian <c>raw_data</c>) and nodes whose outputs
/// are named values. Each node's inputs must already exist, so the graph is valid by construction.
/// </summary>
public sealed class OnnxGraphBuilder(string name)
{
    /// <summary>onnx.proto <c>TensorProto.DataType</c> values used here.</summary>
    public enum ElementType { Float = 1, Int64 = 7, Bool = 9 }

    /// <summary>One dimension of a graph input or output: a fixed size, or a symbolic name (a dynamic axis).</summary>
    public readonly record struct Dim(long? Value, string? Symbol)
    {
        public static Dim Fixed(long value) => new(value, null);
        public static Dim Dynamic(string symbol) => new(null, symbol);
    }

    /// <summary>An attribute of a node (onnx.proto <c>AttributeProto</c>: name = 1, f = 2, i = 3, ints = 8, type = 20).</summary>
    public sealed class Attribute
    {
        private Attribute(ProtobufWriter proto) => Proto = proto;
        internal ProtobufWriter Proto { get; }
        public static Attribute Int(string name, long value) => new(new ProtobufWriter().String(1, name).Varint(3, value).Varint(20, 2));
        public static Attribute Float(string name, float value) => new(new ProtobufWriter().String(1, name).Float(2, value).Varint(20, 1));
        public static Attribute Ints(string name, params long[] values) => new(new ProtobufWriter().String(1, name).Varints(8, values).Varint(20, 7));
    }

    private readonly List<ProtobufWriter> _nodes = [];
    private readonly List<ProtobufWriter> _initializers = [];
    private readonly List<ProtobufWriter> _inputs = [];
    private readonly List<ProtobufWriter> _outputs = [];
    private readonly HashSet<string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _nodeNames = new(StringComparer.Ordinal);

    /// <summary>Bytes of initializer data so far (the bulk of the file).</summary>
    public long InitializerBytes { get; private set; }

    /// <summary>Number of nodes so far.</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>Declares a graph input.</summary>
    public string Input(string valueName, ElementType type, params Dim[] dims)
    {
        Define(valueName);
        _inputs.Add(ValueInfo(valueName, type, dims));
        return valueName;
    }

    /// <summary>Declares an existing value as a graph output.</summary>
    public void Output(string valueName, ElementType type, params Dim[] dims)
    {
        Require(valueName);
        _outputs.Add(ValueInfo(valueName, type, dims));
    }

    /// <summary>A float initializer holding <paramref name="tensor"/> (CPU, fp32) under <paramref name="valueName"/>; streamed at write time.</summary>
    public string Initializer(string valueName, Tensor tensor)
    {
        if (tensor.dtype != ScalarType.Float32) throw new ArgumentException($"initializer '{valueName}' must be float32, not {tensor.dtype}", nameof(tensor));
        Define(valueName);
        long bytes = tensor.numel() * sizeof(float);
        var proto = new ProtobufWriter().Varints(1, tensor.shape).Varint(2, (long)ElementType.Float).String(8, valueName)
            .Bytes(9, bytes, stream => TensorBytes.WriteTo(tensor, stream));
        _initializers.Add(proto);
        InitializerBytes += bytes;
        return valueName;
    }

    /// <summary>An int64 constant (<paramref name="dims"/> empty: a scalar) as an initializer.</summary>
    public string Constant(string valueName, long[] values, params long[] dims) =>
        AddConstant(valueName, ElementType.Int64, dims, values.SelectMany(BitConverter.GetBytes).ToArray());

    /// <summary>A float constant as an initializer.</summary>
    public string Constant(string valueName, float[] values, params long[] dims) =>
        AddConstant(valueName, ElementType.Float, dims, values.SelectMany(BitConverter.GetBytes).ToArray());

    /// <summary>
    /// Adds a node; its one output is named <c>&lt;hint&gt;</c> (made unique), and returned. Node names repeat the
    /// output names, so ORT's errors point at the HF module a value comes from.
    /// </summary>
    public string Node(string opType, string outputHint, string[] inputs, params Attribute[] attributes)
    {
        foreach (string input in inputs) if (input.Length > 0) Require(input);
        string output = Unique(outputHint);
        Define(output);
        var node = new ProtobufWriter();
        foreach (string input in inputs) node.String(1, input);
        node.String(2, output).String(3, output).String(4, opType);
        foreach (var a in attributes) node.Message(5, a.Proto);
        _nodes.Add(node);
        return output;
    }

    /// <summary>The <c>GraphProto</c> message.</summary>
    public ProtobufWriter ToProto()
    {
        var graph = new ProtobufWriter();
        foreach (var n in _nodes) graph.Message(1, n);
        graph.String(2, name);
        foreach (var t in _initializers) graph.Message(5, t);
        foreach (var i in _inputs) graph.Message(11, i);
        foreach (var o in _outputs) graph.Message(12, o);
        return graph;
    }

    private string AddConstant(string valueName, ElementType type, long[] dims, byte[] raw)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian; this host is big-endian.");
        Define(valueName);
        _initializers.Add(new ProtobufWriter().Varints(1, dims).Varint(2, (long)type).String(8, valueName).Bytes(9, raw));
        InitializerBytes += raw.Length;
        return valueName;
    }

    /// <summary><c>ValueInfoProto</c> { name = 1, type = 2 { tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { dim_value = 1 | dim_param = 2 } } } } }.</summary>
    private static ProtobufWriter ValueInfo(string valueName, ElementType type, Dim[] dims)
    {
        var shape = new ProtobufWriter();
        foreach (var d in dims)
            shape.Message(1, d.Symbol is { } s ? new ProtobufWriter().String(2, s) : new ProtobufWriter().Varint(1, d.Value!.Value));
        var tensorType = new ProtobufWriter().Varint(1, (long)type).Message(2, shape);
        return new ProtobufWriter().String(1, valueName).Message(2, new ProtobufWriter().Message(1, tensorType));
    }

    private string Unique(string hint)
    {
        if (!_values.Contains(hint)) return hint;
        int n = _nodeNames.TryGetValue(hint, out int seen) ? seen : 0;
        string candidate;
        do candidate = hint + "_" + (++n).ToString(CultureInfo.InvariantCulture);
        while (_values.Contains(candidate));
        _nodeNames[hint] = n;
        return candidate;
    }

    private void Define(string valueName)
    {
        if (valueName.Length == 0) throw new ArgumentException("ONNX value names must not be empty", nameof(valueName));
        if (!_values.Add(valueName)) throw new InvalidOperationException($"the graph already has a value named '{valueName}'");
    }

    private void Require(string valueName)
    {
        if (!_values.Contains(valueName)) throw new InvalidOperationException($"no value named '{valueName}' exists yet in the graph");
    }
}
