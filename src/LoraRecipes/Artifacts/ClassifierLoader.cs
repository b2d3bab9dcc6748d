using System.Text.Json.Nodes;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>
/// Loads a base model as a sequence classifier with a SEQ_CLS adapter applied, the way PEFT users do
/// <c>AutoModelForSequenceClassification.from_pretrained(base, num_labels=…, id2label=…)</c> then
/// <c>PeftModel.from_pretrained</c>: the labels come from the adapter's <c>lora-manifest.json</c> (written by
/// this project), else the head size is read from the saved head tensor and the base config's names are used
/// when they are that many (<c>LABEL_i</c> otherwise).
/// </summary>
public static class ClassifierLoader
{
    /// <summary>The base model (<paramref name="baseModel"/>, default the adapter's base_model_name_or_path) with the adapter applied.</summary>
    public static (LoadedModel Model, IReadOnlyDictionary<string, IAdapterLayer> Adapters) Load(string adapterFolder, string? baseModel = null, Device? device = null, bool merge = false)
    {
        var config = PeftAdapterConfig.Load(Path.Combine(adapterFolder, ArtifactWriter.AdapterConfigFile));
        string spec = baseModel ?? config.BaseModelNameOrPath;
        if (spec.Length == 0) throw new AdapterLoadException(adapterFolder, "adapter_config.json names no base_model_name_or_path; give the base model.");
        string folder = ModelLoader.ResolveFolder(spec);
        var labels = LabelsOf(adapterFolder, folder);
        var model = ModelLoader.Load(folder, device, sequenceClassification: true, labels: labels);
        try
        {
            return (model, AdapterLoader.Apply(model.Module, adapterFolder, merge));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The adapter's classes by id (see the class remarks), or null to keep the base config's.</summary>
    public static IReadOnlyList<string>? LabelsOf(string adapterFolder, string? baseModelFolder = null)
    {
        string manifest = Path.Combine(adapterFolder, ArtifactWriter.ManifestFile);
        if (File.Exists(manifest) && JsonNode.Parse(File.ReadAllText(manifest)) is JsonObject root && root["labels"] is JsonObject labels)
            return ClassificationLabels.Read(labels, manifest);
        long? rows = HeadRows(Path.Combine(adapterFolder, ArtifactWriter.AdapterWeightsFile));
        if (rows is not { } n) return null;
        var baseLabels = baseModelFolder is null ? null : ModelConfig.Load(Path.Combine(baseModelFolder, "config.json")).Labels;
        return baseLabels?.Count == n ? baseLabels : Enumerable.Range(0, (int)n).Select(i => $"LABEL_{i}").ToArray();
    }

    /// <summary>Rows of the saved output head (<c>classifier.weight</c> or <c>score.weight</c>): num_labels.</summary>
    private static long? HeadRows(string weightsPath)
    {
        if (!File.Exists(weightsPath)) return null;
        using var file = SafetensorsFile.Open(weightsPath);
        foreach (string head in new[] { "classifier", "score" })
        {
            string key = $"{AdapterKeys.Prefix}{head}.weight";
            if (file.Contains(key)) return file[key].Shape[0];
        }
        return null;
    }
}
