namespace LoraRecipes.IO.Onnx;

/// <summary>Lookups over one graph: initializers and Constant outputs by name, each value's producer and consumers.</summary>
internal sealed class GraphIndex
{
    private readonly Dictionary<string, OnnxTensor> _initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OnnxNode> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<OnnxNode>> _consumers = new(StringComparer.Ordinal);
    private readonly string _file;

    public GraphIndex(OnnxGraph graph, string file)
    {
        Graph = graph;
        _file = file;
        foreach (var t in graph.Initializers) _initializers[t.Name] = t;
        foreach (var node in graph.Nodes)
        {
            foreach (string output in node.Outputs.Where(o => o.Length > 0))
            {
                if (!_producers.TryAdd(output, node) || _initializers.ContainsKey(output))
                    throw new OnnxFormatException(file, $"value '{output}' is produced twice.", node: node.Describe());
            }
            foreach (string input in node.Inputs.Where(i => i.Length > 0))
            {
                if (!_consumers.TryGetValue(input, out var list)) _consumers[input] = list = [];
                list.Add(node);
            }
        }
    }

    public OnnxGraph Graph { get; }

    /// <summary>The initializer named <paramref name="name"/>, if any.</summary>
    public OnnxTensor? Initializer(string name) => _initializers.GetValueOrDefault(name);

    /// <summary>The node whose output is <paramref name="value"/>, if any (null for inputs and initializers).</summary>
    public OnnxNode? Producer(string value) => _producers.GetValueOrDefault(value);

    /// <summary>The nodes that read <paramref name="value"/>.</summary>
    public IReadOnlyList<OnnxNode> Consumers(string value) => _consumers.TryGetValue(value, out var list) ? list : [];

    /// <summary>The values of a small constant (an initializer or a Constant node's tensor); null when not constant.</summary>
    public double[]? ConstantValues(string value)
    {
        var tensor = Initializer(value) ?? (Producer(value) is { OpType: "Constant" } c ? c.Attribute("value")?.T : null);
        if (tensor is null || tensor.ElementCount > 64) return null;
        return tensor.ToDoubles(_file);
    }

    /// <summary>
    /// A shape vector as a Reshape reads it: a constant, or a Concat of constants and run-time parts (each run-time
    /// part a single unknown dimension, -1 here). Null when it cannot be followed.
    /// </summary>
    public long[]? ShapeValues(string value)
    {
        if (ConstantValues(value) is { } constant) return constant.Select(v => (long)v).ToArray();
        if (Producer(value) is not { OpType: "Concat" } concat) return null;
        var parts = new List<long>();
        foreach (string input in concat.Inputs)
        {
            if (ConstantValues(input) is { } part) parts.AddRange(part.Select(v => (long)v));
            else if (Producer(input) is { OpType: "Unsqueeze" }) parts.Add(-1);   // one run-time dimension (batch, seq)
            else return null;
        }
        return parts.ToArray();
    }
}
