using System.Text.RegularExpressions;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>Applies a saved PEFT LoRA adapter (ours or one PEFT wrote) to a loaded base model.</summary>
public static class AdapterLoader
{
    /// <summary>
    /// Wraps exactly the modules the adapter has weights for, copies A and B (shapes checked against the
    /// base model), and returns the wrapped modules. Dropout is off: this is for inference and evaluation.
    /// </summary>
    public static IReadOnlyDictionary<string, LoraLinear> Apply(nn.Module model, string adapterFolder, bool merge = false)
    {
        string configPath = Path.Combine(adapterFolder, ArtifactWriter.AdapterConfigFile);
        var config = PeftAdapterConfig.Load(configPath);
        // fan_in_fan_out only says the base weight is stored [in, out] (GPT-2 Conv1D); A [r, in] and B [out, r] are
        // the same either way, and the Conv1D families here hold that weight transposed as nn.Linear. PEFT itself
        // corrects a wrong flag with a warning, so a mismatch is not an error.
        string weightsPath = Path.Combine(adapterFolder, ArtifactWriter.AdapterWeightsFile);
        if (!File.Exists(weightsPath))
            throw new AdapterLoadException(weightsPath, "adapter_model.safetensors not found (adapter_model.bin is a pickle and is refused: convert it to safetensors).");

        using var file = SafetensorsFile.Open(weightsPath);
        var modules = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var info in file.Tensors)
        {
            var parsed = AdapterKeys.Parse(info.Name)
                ?? throw new AdapterLoadException(weightsPath, $"tensor '{info.Name}' is not a LoRA weight under PEFT's naming (base_model.model.<module>.lora_A.weight).");
            modules.Add(parsed.ModulePath);
        }
        if (modules.Count == 0) throw new AdapterLoadException(weightsPath, "the adapter holds no tensors.");

        string exact = "re:" + string.Join("|", modules.Select(Regex.Escape));
        var settings = new LoraSettings(config.R, config.LoraAlpha, 0.0, [exact], config.UseRslora, LoraInit.Default);
        IReadOnlyDictionary<string, LoraLinear> wrapped;
        try
        {
            wrapped = LoraInjector.Inject(model, settings);
        }
        catch (LoraTargetException ex)
        {
            throw new AdapterLoadException(adapterFolder, "the adapter's modules do not exist in this base model: " + ex.Message);
        }
        var missing = modules.Except(wrapped.Keys).ToList();
        if (missing.Count > 0)
            throw new AdapterLoadException(adapterFolder, $"the base model has no linear layer {string.Join(", ", missing.Take(5))}; was the adapter trained on another model?");

        using var guard = no_grad();
        foreach (var (path, layer) in wrapped)
        {
            Copy(file, weightsPath, AdapterKeys.For(path, "lora_A"), layer.A);
            Copy(file, weightsPath, AdapterKeys.For(path, "lora_B"), layer.B);
            if (merge) layer.Merge();
        }
        return wrapped;
    }

    private static void Copy(SafetensorsFile file, string weightsPath, string key, Tensor target)
    {
        string name = file.Contains(key) ? key : key.Replace(".weight", ".default.weight", StringComparison.Ordinal);
        if (!file.Contains(name)) throw new AdapterLoadException(weightsPath, $"missing tensor '{key}'.");
        using var stored = file.ReadTensor(name);
        if (!stored.shape.SequenceEqual(target.shape))
            throw new AdapterLoadException(weightsPath, $"tensor '{key}' has shape [{string.Join(", ", stored.shape)}] but this base model needs [{string.Join(", ", target.shape)}] (A is [r, in], B is [out, r]).");
        target.copy_(stored);
    }
}
