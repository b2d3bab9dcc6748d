using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LoraRecipes.IO.Onnx;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts.OnnxExport;

/// <summary>What an export wrote.</summary>
/// <param name="Path">The .onnx file.</param>
/// <param name="MergedLayers">LoRA layers folded into their base weights (W' = W + s·B·A).</param>
/// <param name="Bytes">File size.</param>
/// <param name="ModelType">config.json's model_type (bert, distilbert).</param>
/// <param name="Labels">Class names by logit index.</param>
public sealed record OnnxExportResult(string Path, int MergedLayers, long Bytes, string ModelType, IReadOnlyList<string> Labels);

/// <summary>
/// Exports a sequence classifier trained with LoRA (head in <c>modules_to_save</c>) as one ONNX model that ONNX Runtime
/// runs: the adapter is merged into the base (the NaN-checked <see cref="LoraLinear.Merge"/>), and the graph
/// (<see cref="EncoderOnnxGraph"/>) computes the same logits as our forward. BERT and DistilBERT encoders only.
/// </summary>
/// <example>
/// <code>
/// var result = OnnxClassifierExporter.Write("artifacts/sentiment", "sentiment.onnx");
/// // ONNX Runtime: inputs input_ids, attention_mask (int64 [batch, sequence]) → logits (float [batch, num_labels])
/// </code>
/// </example>
public static class OnnxClassifierExporter
{
    /// <summary>model_type values with an ONNX graph.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["bert", "distilbert"];

    /// <summary>Metadata keys written into <c>metadata_props</c>.</summary>
    public const string Id2LabelKey = "id2label", BaseModelKey = "base_model", ModelTypeKey = "model_type",
        AdapterFingerprintKey = "adapter_fingerprint", AdapterSha256Key = "adapter_sha256";

    /// <summary>
    /// Merges the SEQ_CLS adapter in <paramref name="adapterFolder"/> into <paramref name="baseModel"/> (default: the
    /// adapter's base_model_name_or_path) and writes the classifier to <paramref name="output"/> atomically.
    /// </summary>
    /// <exception cref="OnnxExportException">A causal-LM adapter, or a model family without an ONNX graph.</exception>
    /// <exception cref="IOException">The output exists (without <paramref name="overwrite"/>) or is a folder.</exception>
    public static OnnxExportResult Write(string adapterFolder, string output, string? baseModel = null, bool overwrite = false)
    {
        output = System.IO.Path.GetFullPath(output);
        if (Directory.Exists(output)) throw new IOException($"{output} is a folder; --format onnx writes one file: give a path such as model.onnx.");
        if (File.Exists(output) && !overwrite) throw new IOException($"{output} exists; choose another --output or pass --force.");
        // The task decides first (a causal-LM adapter is refused by what it is, whatever else its folder holds).
        var adapter = AdapterFolder.Open(adapterFolder, requireAdapter: false);
        if (!adapter.IsSequenceClassification)
            throw new OnnxExportException($"{adapterFolder}: task_type '{adapter.Config.TaskType}' cannot be exported to ONNX; only sequence-classification " +
                $"adapters (task_type {PeftAdapterConfig.SequenceClassificationTask}) on {string.Join(" or ", SupportedModelTypes)} export. " +
                "Merge a causal-LM adapter into a Hugging Face checkpoint with --format hf.");
        string spec = adapter.BaseModel(baseModel);
        var (model, merged) = AdapterFolder.Open(adapterFolder).Load(baseModel, merge: true);
        using (model)
        {
            var graph = BuildGraph(model.Module, model.Config);
            var metadata = Metadata(model.Config, spec, adapter, merged.Count);
            long bytes = OnnxModelWriter.Write(output, graph, metadata, "LoraRecipes", ToolInfo.Version);
            return new OnnxExportResult(output, merged.Count, bytes, model.Config.ModelType, model.Config.Labels);
        }
    }

    /// <summary>
    /// The ONNX graph of a classifier held in memory (<paramref name="model"/> built from <paramref name="config"/>),
    /// with its current weights. Every LoRA layer must already be merged.
    /// </summary>
    public static OnnxGraphBuilder BuildGraph(nn.Module model, ModelConfig config)
    {
        if (!SupportedModelTypes.Contains(config.ModelType) || model is not (BertForSequenceClassification or DistilBertForSequenceClassification))
            throw new OnnxExportException($"model_type '{config.ModelType}' ({model.GetName()}) has no ONNX export; supported: " +
                $"{string.Join(", ", SupportedModelTypes)} sequence classifiers. Causal LMs and decoder classifiers export with --format hf.");
        if (model.modules().OfType<IAdapterLayer>().FirstOrDefault(l => !l.Merged) is { } unmerged)
            throw new InvalidOperationException($"an adapter layer ({unmerged.Base.weight!.shape[1]}→{unmerged.Base.weight!.shape[0]}) is not merged; merge before building the ONNX graph");
        // No dispose scope: the initializers stream these tensors when the file is written, after this returns.
        var weights = MergedCheckpointWriter.PlainParameters(model)
            .ToDictionary(p => p.Name, p => p.Value.detach().cpu().to(ScalarType.Float32).contiguous(), StringComparer.Ordinal);
        return EncoderOnnxGraph.Build(config, weights);
    }

    /// <summary>id2label (JSON), base model, model type, the adapter's plan fingerprint (when it has our manifest) and file hash.</summary>
    private static List<KeyValuePair<string, string>> Metadata(ModelConfig config, string baseModel, AdapterFolder adapter, int mergedLayers)
    {
        var id2label = new JsonObject();
        for (int i = 0; i < config.Labels.Count; i++) id2label[i.ToString(CultureInfo.InvariantCulture)] = config.Labels[i];
        var metadata = new List<KeyValuePair<string, string>>
        {
            new(Id2LabelKey, id2label.ToJsonString()),
            new(BaseModelKey, baseModel),
            new(ModelTypeKey, config.ModelType),
            new("adapter_merged_layers", mergedLayers.ToString(CultureInfo.InvariantCulture)),
            new("inputs", "input_ids, attention_mask: int64 [batch, sequence]; logits: float [batch, num_labels]"),
        };
        if (adapter.Manifest?.Fingerprint is { Length: > 0 } fingerprint)
            metadata.Add(new(AdapterFingerprintKey, fingerprint));
        using (var weights = File.OpenRead(adapter.File(ArtifactFiles.AdapterWeights)))
            metadata.Add(new(AdapterSha256Key, Convert.ToHexStringLower(SHA256.HashData(weights))));
        return metadata;
    }
}
