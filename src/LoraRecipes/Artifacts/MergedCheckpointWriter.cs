using LoraRecipes.IO;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>
/// Folds an adapter into its base model (W' = W + s·B·A per wrapped layer) and writes a plain Hugging Face
/// checkpoint folder — config.json, model.safetensors, the tokenizer files — that loads as a base model
/// with no adapter. The folder is written into a sibling staging folder and renamed into place.
/// </summary>
public static class MergedCheckpointWriter
{
    /// <summary>Files of the base folder that are weights (replaced by the merged model.safetensors), never copied.</summary>
    private static readonly string[] WeightPatterns = ["*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "model.safetensors.index.json", "pytorch_model.bin.index.json"];

    /// <summary>Merges <paramref name="adapter"/> into <paramref name="baseModel"/> (a spec or folder; default the adapter's base) and writes <paramref name="output"/>.</summary>
    /// <returns>The number of merged layers.</returns>
    public static int Write(AdapterFolder adapter, string? baseModel, string output, bool overwrite = false)
    {
        output = Path.GetFullPath(output);
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() && !overwrite)
            throw new IOException($"{output} exists and is not empty; choose another --output or pass --force.");
        string baseFolder = ModelLoader.ResolveFolder(adapter.BaseModel(baseModel));
        using var model = ModelLoader.Load(baseFolder);
        var merged = adapter.Apply(model.Module, merge: true);

        string parent = Path.GetDirectoryName(output) ?? ".";
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(output)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(staging);
        try
        {
            WriteWeights(model, Path.Combine(staging, "model.safetensors"));
            CopyNonWeightFiles(baseFolder, staging);
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
            Directory.Move(staging, output);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
        return merged.Count;
    }

    /// <summary>The merged weights under the base model's own names (".base_layer" removed, no lora_ tensors), in the config's dtype.</summary>
    private static void WriteWeights(LoadedModel model, string path)
    {
        using var scope = NewDisposeScope();
        var dtype = model.Config.TorchDtype switch { "bfloat16" => ScalarType.BFloat16, "float16" => ScalarType.Float16, _ => ScalarType.Float32 };
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (plain, p) in PlainParameters(model.Module))
        {
            if (model.Config.TieWordEmbeddings && plain == "lm_head.weight") continue;   // tied: stored once, as the embedding
            tensors[plain] = p.detach().cpu().to(dtype).contiguous();
        }
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>The model's parameters under the base model's own names: ".base_layer" removed, no lora_ tensors (merge first).</summary>
    internal static IEnumerable<(string Name, Tensor Value)> PlainParameters(nn.Module model)
    {
        foreach (var (name, p) in model.named_parameters())
        {
            if (Lora.LoraInjector.IsAdapterParameter(name)) continue;
            yield return (name.Replace(".base_layer.", ".", StringComparison.Ordinal), p);
        }
    }

    private static void CopyNonWeightFiles(string from, string to)
    {
        var weights = WeightPatterns.SelectMany(p => Directory.EnumerateFiles(from, p)).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(from))
        {
            string name = Path.GetFileName(file);
            if (!weights.Contains(name)) File.Copy(file, Path.Combine(to, name));
        }
    }
}
