namespace LoraRecipes.IO;

/// <summary>
/// A safetensors file or a sharded checkpoint index is malformed. The message names the file, the problem
/// and, where one is involved, the tensor.
/// </summary>
public sealed class SafetensorsFormatException : Exception
{
    public SafetensorsFormatException(string filePath, string problem, string? tensorName = null, Exception? inner = null)
        : base(Format(filePath, problem, tensorName), inner)
    {
        FilePath = filePath;
        Problem = problem;
        TensorName = tensorName;
    }

    /// <summary>The file that failed validation.</summary>
    public string FilePath { get; }

    /// <summary>The problem alone, without the file and tensor names.</summary>
    public string Problem { get; }

    /// <summary>The tensor the problem concerns, if any.</summary>
    public string? TensorName { get; }

    private static string Format(string filePath, string problem, string? tensorName) =>
        tensorName is null
            ? $"Invalid safetensors file '{filePath}': {problem}"
            : $"Invalid safetensors file '{filePath}': tensor '{tensorName}': {problem}";
}
