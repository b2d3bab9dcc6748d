namespace LoraRecipes.IO.Onnx;

/// <summary>
/// An ONNX file is malformed, or holds a graph the importer does not understand. The message names the file and,
/// where they are known, the byte offset of the bad field and the graph node concerned.
/// </summary>
public sealed class OnnxFormatException : Exception
{
    public OnnxFormatException(string filePath, string problem, long? offset = null, string? node = null, Exception? inner = null)
        : base(Format(filePath, problem, offset, node), inner)
    {
        FilePath = filePath;
        Problem = problem;
        Offset = offset;
        Node = node;
    }

    /// <summary>The ONNX file.</summary>
    public string FilePath { get; }

    /// <summary>The problem alone, without file, offset and node.</summary>
    public string Problem { get; }

    /// <summary>Byte offset in the file of the field that failed to decode, when the problem is in the encoding.</summary>
    public long? Offset { get; }

    /// <summary>The graph node (or initializer) the problem concerns, when the problem is in the graph.</summary>
    public string? Node { get; }

    private static string Format(string filePath, string problem, long? offset, string? node)
    {
        string where = (offset, node) switch
        {
            ({ } o, { } n) => $" at byte {o} ({n})",
            ({ } o, null) => $" at byte {o}",
            (null, { } n) => $": {n}",
            _ => "",
        };
        return $"Invalid ONNX model '{filePath}'{where}: {problem}";
    }
}
