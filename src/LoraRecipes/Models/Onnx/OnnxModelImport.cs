using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraRecipes.IO;
using LoraRecipes.IO.Onnx;
using LoraRecipes.Tokenization;
using static TorchSharp.torch;

namespace LoraRecipes.Models.Onnx;

/// <summary>What an import wrote: the inferred config, how many tensors, and what was inferred rather than read.</summary>
public sealed record OnnxImportResult(string Folder, ModelConfig Config, int TensorCount, string TokenizerFile, IReadOnlyList<string> Notes);

/// <summary>
/// <c>dotnet lora import onnx</c>: an ONNX BERT encoder (torch.onnx or Optimum export) → a normal Hugging Face BERT
/// folder (config.json with model_type bert, model.safetensors under HF names, the tokenizer files), which then loads
/// through <see cref="ModelLoader"/> like any checkpoint.
/// </summary>
public static class OnnxModelImport
{
    /// <summary>
    /// Imports <paramref name="onnxPath"/> into <paramref name="outFolder"/> atomically: everything is written into a
    /// staging folder beside it, then renamed into place, so a failed import leaves nothing behind.
    /// </summary>
    /// <param name="onnxPath">The .onnx file (weights inside it; external data is refused).</param>
    /// <param name="tokenizerPath">vocab.txt or tokenizer.json; null: the one beside the model, if any.</param>
    /// <param name="outFolder">A new (or empty) folder.</param>
    public static OnnxImportResult ImportToFolder(string onnxPath, string? tokenizerPath, string outFolder)
    {
        // "out/" must name the folder "out", not an empty last segment inside it.
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outFolder));
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            throw new ModelLoadException(target, "the output folder exists and is not empty; choose a new folder (the import never overwrites).");
        string parent = Path.GetDirectoryName(target) ?? throw new ModelLoadException(target, "the output folder has no parent folder.");
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(staging);
        try
        {
            var result = WriteFiles(onnxPath, tokenizerPath, staging);
            if (Directory.Exists(target)) Directory.Delete(target);   // empty, checked above
            Directory.Move(staging, target);
            AtomicFile.FlushDirectory(parent);
            return result with { Folder = target };
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Writes config.json, model.safetensors and the tokenizer files into an existing (staging) folder.</summary>
    public static OnnxImportResult WriteFiles(string onnxPath, string? tokenizerPath, string folder, bool doLowerCase = true, int modelMaxLength = 512)
    {
        string tokenizer = tokenizerPath ?? FindTokenizer(onnxPath);
        var imported = BertGraph.Import(OnnxReader.Read(onnxPath), onnxPath);
        string tokenizerFile = WriteTokenizer(tokenizer, folder, doLowerCase, modelMaxLength);
        var loaded = TextTokenizer.Load(folder);
        if (loaded.VocabSize > imported.Config.VocabSize)
            throw new TokenizerLoadException(tokenizer, $"the tokenizer has {loaded.VocabSize} tokens but the model's embedding has {imported.Config.VocabSize} rows: it is not this model's tokenizer.");
        File.WriteAllText(Path.Combine(folder, "config.json"), imported.Config.ToJson() + "\n");
        using (NewDisposeScope())
        {
            var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, (shape, values)) in imported.Tensors) tensors[name] = tensor(values, shape, ScalarType.Float32);
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
        return new OnnxImportResult(folder, imported.Config, imported.Tensors.Count, tokenizerFile, imported.Notes);
    }

    private static string FindTokenizer(string onnxPath)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(onnxPath)) ?? ".";
        foreach (string name in new[] { "tokenizer.json", "vocab.txt" })
        {
            if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        }
        throw new ModelLoadException(onnxPath, "no tokenizer.json or vocab.txt beside the model; pass the tokenizer with --tokenizer <vocab.txt|tokenizer.json>.");
    }

    /// <summary>Copies the tokenizer in; for a bare vocab.txt, writes BERT's tokenizer_config.json and special_tokens_map.json.</summary>
    private static string WriteTokenizer(string source, string folder, bool doLowerCase, int modelMaxLength)
    {
        if (!File.Exists(source)) throw new TokenizerLoadException(source, "file not found.");
        string dir = Path.GetDirectoryName(Path.GetFullPath(source)) ?? ".";
        if (source.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            File.Copy(source, Path.Combine(folder, "tokenizer.json"));
            foreach (string extra in new[] { "tokenizer_config.json", "special_tokens_map.json" })
                if (File.Exists(Path.Combine(dir, extra))) File.Copy(Path.Combine(dir, extra), Path.Combine(folder, extra));
            return "tokenizer.json";
        }
        string vocab = Path.Combine(folder, "vocab.txt");
        if (Path.GetFullPath(source) != Path.GetFullPath(vocab)) File.Copy(source, vocab);
        var specials = new JsonObject { ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]" };
        var config = new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer",
            ["do_lower_case"] = doLowerCase,
            ["strip_accents"] = null,
            ["tokenize_chinese_chars"] = true,
            ["model_max_length"] = modelMaxLength,
            ["clean_up_tokenization_spaces"] = true,
        };
        foreach (var (k, v) in specials) config[k] = v?.DeepClone();
        var indented = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString(indented) + "\n", new UTF8Encoding(false));
        File.WriteAllText(Path.Combine(folder, "special_tokens_map.json"), specials.ToJsonString(indented) + "\n", new UTF8Encoding(false));
        return "vocab.txt";
    }
}
