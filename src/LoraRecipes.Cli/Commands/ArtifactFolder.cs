using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;

namespace LoraRecipes.Cli.Commands;

/// <summary>What <c>inspect</c>, <c>verify</c> and <c>report</c> read from an artifact folder.</summary>
internal sealed class ArtifactFolder
{
    private ArtifactFolder(string path, PeftAdapterConfig? config, JsonObject? manifest)
    {
        Path = path;
        Config = config;
        Manifest = manifest;
    }

    public string Path { get; }
    /// <summary>adapter_config.json, when present.</summary>
    public PeftAdapterConfig? Config { get; }
    /// <summary>lora-manifest.json, when present (adapters trained elsewhere have none).</summary>
    public JsonObject? Manifest { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Reads the folder; throws <see cref="AdapterLoadException"/> when it has neither config nor manifest.</summary>
    public static ArtifactFolder Open(string path)
    {
        if (!Directory.Exists(path)) throw new AdapterLoadException(path, "no such folder.");
        string configPath = System.IO.Path.Combine(path, ArtifactWriter.AdapterConfigFile);
        string manifestPath = System.IO.Path.Combine(path, ArtifactWriter.ManifestFile);
        var config = System.IO.File.Exists(configPath) ? PeftAdapterConfig.Load(configPath) : null;
        JsonObject? manifest = null;
        if (System.IO.File.Exists(manifestPath))
        {
            try
            {
                manifest = JsonNode.Parse(System.IO.File.ReadAllText(manifestPath)) as JsonObject;
            }
            catch (System.Text.Json.JsonException ex)
            {
                throw new AdapterLoadException(manifestPath, "invalid JSON: " + ex.Message);
            }
        }
        if (config is null && manifest is null)
            throw new AdapterLoadException(path, "neither adapter_config.json nor lora-manifest.json is here; is this an artifact folder?");
        return new ArtifactFolder(path, config, manifest);
    }
}
