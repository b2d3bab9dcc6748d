using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoraRecipes.IO.Onnx;

/// <summary>
/// The provenance record an ONNX import leaves in the folder it writes (builtin:minilm writes one), read back by the
/// artifact writer. The import itself turns a graph into a model, so it lives with the models
/// (<c>LoraRecipes.Models.Onnx.OnnxModelImport</c>); this file format stays here, below both.
/// </summary>
public static class OnnxImport
{
    /// <summary>Where an imported folder records its origin.</summary>
    public const string ProvenanceFile = "provenance.json";

    /// <summary>The folder's <see cref="ProvenanceFile"/> as JSON; null when it has none (or it is unreadable: provenance is informational).</summary>
    public static JsonNode? ReadProvenance(string folder)
    {
        string path = Path.Combine(folder, ProvenanceFile);
        try
        {
            return File.Exists(path) && new FileInfo(path).Length < 1 << 20 ? JsonNode.Parse(File.ReadAllText(path)) : null;
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
