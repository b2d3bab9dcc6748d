namespace LoraRecipes.IO.Onnx;

/// <summary>
/// Reads an ONNX <c>ModelProto</c> (the subset in <see cref="OnnxModel"/>) from untrusted bytes. Field numbers are
/// onnx.proto's; unknown fields are skipped as protobuf allows. Every list grows by at least one byte of input per
/// element and every length is checked before use, so memory stays within a small multiple of the file's size;
/// nested graphs (control-flow sub-graphs) stop at <see cref="MaxGraphDepth"/>.
/// </summary>
public static class OnnxReader
{
    /// <summary>Deepest nesting of sub-graphs (If/Loop bodies) accepted.</summary>
    public const int MaxGraphDepth = 8;

    /// <summary>Most dimensions a tensor may have.</summary>
    public const int MaxRank = 16;

    /// <summary>Largest element count a tensor may declare (2^40: far past any model this tool trains).</summary>
    public const long MaxElements = 1L << 40;

    /// <summary>Reads the model at <paramref name="path"/>; weights stay slices of the file's bytes.</summary>
    public static OnnxModel Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new OnnxFormatException(path, "the file does not exist.");
        // Protobuf caps a message at 2 GB; larger models keep their weights in external files, which are refused.
        if (info.Length > int.MaxValue) throw new OnnxFormatException(path, $"the file is {info.Length:N0} bytes; an ONNX protobuf cannot exceed 2 GB (larger models store weights as external data, which is not supported).");
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads a model from bytes; <paramref name="file"/> names it in errors.</summary>
    public static OnnxModel Read(ReadOnlyMemory<byte> bytes, string file)
    {
        if (bytes.Length == 0) throw new OnnxFormatException(file, "the file is empty.");
        var r = new ProtobufReader(bytes, 0, file);
        long irVersion = 0;
        string producer = "", producerVersion = "";
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal);
        OnnxGraph? graph = null;
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: r.Expect(wire, WireType.Varint, "ir_version"); irVersion = r.ReadInt64(); break;
                case 2: r.Expect(wire, WireType.LengthDelimited, "producer_name"); producer = r.ReadString("producer_name"); break;
                case 3: r.Expect(wire, WireType.LengthDelimited, "producer_version"); producerVersion = r.ReadString("producer_version"); break;
                case 7:
                    r.Expect(wire, WireType.LengthDelimited, "graph");
                    if (graph is not null) throw r.Error("the model has two graphs", r.Offset);
                    var g = r.ReadMessage();
                    graph = ReadGraph(ref g, 0);
                    break;
                case 8:
                    r.Expect(wire, WireType.LengthDelimited, "opset_import");
                    var o = r.ReadMessage();
                    var (domain, version) = ReadOpset(ref o);
                    opsets[domain] = version;
                    break;
                default: r.Skip(wire); break;
            }
        }
        if (graph is null) throw new OnnxFormatException(file, "the model has no graph; is this an ONNX model file?");
        if (irVersion <= 0) throw new OnnxFormatException(file, $"ir_version is {irVersion}; an ONNX model declares a positive IR version.");
        return new OnnxModel(irVersion, producer, producerVersion, opsets, graph);
    }

    private static (string Domain, long Version) ReadOpset(ref ProtobufReader r)
    {
        string domain = "";
        long version = 0;
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited) domain = r.ReadString("opset domain");
            else if (field == 2 && wire == WireType.Varint) version = r.ReadInt64();
            else r.Skip(wire);
        }
        return (domain == "ai.onnx" ? "" : domain, version);
    }

    private static OnnxGraph ReadGraph(ref ProtobufReader r, int depth)
    {
        if (depth > MaxGraphDepth) throw r.Error($"sub-graphs nest deeper than {MaxGraphDepth} levels", r.Offset);
        string name = "";
        var nodes = new List<OnnxNode>();
        var initializers = new List<OnnxTensor>();
        var inputs = new List<OnnxValueInfo>();
        var outputs = new List<OnnxValueInfo>();
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field is 1 or 2 or 5 or 11 or 12 or 15) r.Expect(wire, WireType.LengthDelimited, $"graph field {field}");
            switch (field)
            {
                case 1: { var m = r.ReadMessage(); nodes.Add(ReadNode(ref m, depth)); break; }
                case 2: name = r.ReadString("graph name"); break;
                case 5: { var m = r.ReadMessage(); initializers.Add(ReadTensor(ref m)); break; }
                case 11: { var m = r.ReadMessage(); inputs.Add(ReadValueInfo(ref m)); break; }
                case 12: { var m = r.ReadMessage(); outputs.Add(ReadValueInfo(ref m)); break; }
                case 15: throw r.Error("the graph has sparse initializers, which are not supported", r.Offset);
                default: r.Skip(wire); break;
            }
        }
        var duplicate = initializers.GroupBy(t => t.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw r.Error($"initializer '{duplicate.Key}' is defined twice", r.Offset, duplicate.Key);
        return new OnnxGraph(name, nodes, initializers, inputs, outputs);
    }

    private static OnnxNode ReadNode(ref ProtobufReader r, int depth)
    {
        long start = r.Offset;
        string name = "", opType = "", domain = "";
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attributes = new List<OnnxAttribute>();
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field is 1 or 2 or 3 or 4 or 5 or 7) r.Expect(wire, WireType.LengthDelimited, $"node field {field}");
            switch (field)
            {
                case 1: inputs.Add(r.ReadString("node input")); break;
                case 2: outputs.Add(r.ReadString("node output")); break;
                case 3: name = r.ReadString("node name"); break;
                case 4: opType = r.ReadString("op_type"); break;
                case 5: { var m = r.ReadMessage(); attributes.Add(ReadAttribute(ref m, depth)); break; }
                case 7: domain = r.ReadString("node domain"); break;
                default: r.Skip(wire); break;
            }
        }
        if (opType.Length == 0) throw r.Error("a node has no op_type", start, name.Length > 0 ? name : null);
        return new OnnxNode(name, opType, domain == "ai.onnx" ? "" : domain, inputs, outputs, attributes);
    }

    private static OnnxAttribute ReadAttribute(ref ProtobufReader r, int depth)
    {
        string name = "";
        int type = 0;
        float f = 0;
        long i = 0;
        string? s = null;
        OnnxTensor? t = null;
        var floats = new List<float>();
        var ints = new List<long>();
        var graphs = new List<OnnxGraph>();
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: r.Expect(wire, WireType.LengthDelimited, "attribute name"); name = r.ReadString("attribute name"); break;
                case 2: r.Expect(wire, WireType.Fixed32, "attribute f"); f = r.ReadFloat(); break;
                case 3: r.Expect(wire, WireType.Varint, "attribute i"); i = r.ReadInt64(); break;
                // Attribute strings are bytes in onnx.proto; those read here (modes, directions) are ASCII.
                case 4: r.Expect(wire, WireType.LengthDelimited, "attribute s"); s = r.ReadString("attribute s"); break;
                case 5: { r.Expect(wire, WireType.LengthDelimited, "attribute t"); var m = r.ReadMessage(); t = ReadTensor(ref m); break; }
                case 6 or 11: { r.Expect(wire, WireType.LengthDelimited, "attribute graph"); var m = r.ReadMessage(); graphs.Add(ReadGraph(ref m, depth + 1)); break; }
                case 7: r.ReadFloats(wire, floats); break;
                case 8: r.ReadInt64s(wire, ints); break;
                case 20: r.Expect(wire, WireType.Varint, "attribute type"); type = r.ReadInt32("attribute type"); break;
                default: r.Skip(wire); break;
            }
        }
        return new OnnxAttribute(name, type, f, i, s, t, floats, ints, graphs);
    }

    private static OnnxValueInfo ReadValueInfo(ref ProtobufReader r)
    {
        string name = "";
        int elementType = 0;
        List<long>? shape = null;
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited) name = r.ReadString("value name");
            else if (field == 2 && wire == WireType.LengthDelimited)
            {
                var type = r.ReadMessage();   // TypeProto: 1 = tensor_type
                while (type.TryReadTag(out int tf, out var tw))
                {
                    if (tf != 1 || tw != WireType.LengthDelimited) { type.Skip(tw); continue; }
                    var tensor = type.ReadMessage();   // TypeProto.Tensor: 1 = elem_type, 2 = shape
                    while (tensor.TryReadTag(out int ef, out var ew))
                    {
                        if (ef == 1 && ew == WireType.Varint) elementType = tensor.ReadInt32("elem_type");
                        else if (ef == 2 && ew == WireType.LengthDelimited) { var s = tensor.ReadMessage(); shape = ReadShape(ref s); }
                        else tensor.Skip(ew);
                    }
                }
            }
            else r.Skip(wire);
        }
        return new OnnxValueInfo(name, elementType, shape);
    }

    /// <summary>TensorShapeProto: repeated Dimension (1 = dim_value, 2 = dim_param → -1).</summary>
    private static List<long> ReadShape(ref ProtobufReader r)
    {
        var dims = new List<long>();
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field != 1 || wire != WireType.LengthDelimited) { r.Skip(wire); continue; }
            var d = r.ReadMessage();
            long value = -1;
            while (d.TryReadTag(out int df, out var dw))
            {
                if (df == 1 && dw == WireType.Varint) value = d.ReadInt64();
                else d.Skip(dw);
            }
            dims.Add(value);
        }
        return dims;
    }

    private static OnnxTensor ReadTensor(ref ProtobufReader r)
    {
        long start = r.Offset;
        string name = "";
        int dataType = 0;
        var dims = new List<long>();
        ReadOnlyMemory<byte> raw = default;
        bool hasRaw = false, external = false;
        var floats = new List<float>();
        var int64s = new List<long>();
        var int32s = new List<long>();
        var doubles = new List<double>();
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: r.ReadInt64s(wire, dims); break;
                case 2: r.Expect(wire, WireType.Varint, "data_type"); dataType = r.ReadInt32("data_type"); break;
                case 3: throw r.Error("segmented tensors are not supported", r.Offset, name.Length > 0 ? name : null);
                case 4: r.ReadFloats(wire, floats); break;
                case 5: r.ReadInt64s(wire, int32s); break;
                case 7: r.ReadInt64s(wire, int64s); break;
                case 8: r.Expect(wire, WireType.LengthDelimited, "tensor name"); name = r.ReadString("tensor name"); break;
                case 9: r.Expect(wire, WireType.LengthDelimited, "raw_data"); raw = r.ReadBytes(out _); hasRaw = true; break;
                case 10: r.ReadDoubles(wire, doubles); break;
                case 13: r.Skip(wire); external = true; break;
                case 14: r.Expect(wire, WireType.Varint, "data_location"); external |= r.ReadInt64() == 1; break;
                default: r.Skip(wire); break;
            }
        }
        string label = name.Length > 0 ? name : "(unnamed)";
        if (external)
            throw r.Error($"tensor '{label}' keeps its data in an external file, which is not supported: save the model with the weights inside (onnx.save(model, path, save_as_external_data=False)).", start, label);
        if (dims.Count > MaxRank) throw r.Error($"tensor '{label}' has {dims.Count} dimensions (at most {MaxRank})", start, label);
        long count = 1;
        foreach (long d in dims)
        {
            if (d < 0 || d > MaxElements) throw r.Error($"tensor '{label}' has dimension {d}", start, label);
            count = d == 0 ? 0 : count > MaxElements / d ? MaxElements + 1 : count * d;
        }
        if (count > MaxElements) throw r.Error($"tensor '{label}' declares more than {MaxElements} elements", start, label);
        return new OnnxTensor(name, dataType, dims, raw, hasRaw, floats, int64s, int32s, doubles);
    }
}
