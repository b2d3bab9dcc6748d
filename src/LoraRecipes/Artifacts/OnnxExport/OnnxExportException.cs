namespace LoraRecipes.Artifacts.OnnxExport;

/// <summary>A model or adapter that cannot be exported to ONNX; the message names what and says what can be.</summary>
public sealed class OnnxExportException(string message) : Exception(message);
