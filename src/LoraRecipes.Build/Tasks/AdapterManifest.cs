using System.Globalization;
using System.Text.Json;

namespace LoraRecipes.Build;

/// <summary>The parts of an existing <c>lora-manifest.json</c> the build reads: fingerprint and final metrics.</summary>
internal sealed record AdapterManifest(string? Fingerprint, IReadOnlyDictionary<string, string> Metrics, string? Steps)
{
    public const string FileName = "lora-manifest.json";
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>The files of an artifact folder that join the project output (checkpoints stay behind).</summary>
    public static readonly string[] OutputFiles =
        ["adapter_config.json", WeightsFileName, FileName, "recipe.resolved.yaml", "metrics.jsonl", "loss.png"];

    /// <summary>Reads the manifest in <paramref name="folder"/>; null when absent or not valid JSON (treated as "must train").</summary>
    public static AdapterManifest? TryRead(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            string? fingerprint = root.TryGetProperty("fingerprint", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            var metrics = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metrics", out var m) && m.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in m.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number))
                    metrics[property.Name] = property.Value.GetDouble().ToString("R", CultureInfo.InvariantCulture);
            }
            string? steps = root.TryGetProperty("steps", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetRawText() : null;
            return new AdapterManifest(fingerprint, metrics, steps);
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
