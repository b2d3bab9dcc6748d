using LoraRecipes.IO;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary>The benchmark's model sizes: HF-format Llama-style folders with random weights, generated once into a cache.</summary>
internal static class BenchModels
{
    /// <summary>Names accepted by <c>--sizes</c>.</summary>
    public static readonly string[] Names = ["tiny", "25m", "110m", "minilm"];

    /// <summary>
    /// Sizes that are pretrained encoders, benchmarked as sequence classifiers (<see cref="ClassificationBench"/>):
    /// minilm is all-MiniLM-L6-v2 (<c>builtin:minilm</c>, BERT, 6 layers, hidden 384, 22.7M parameters).
    /// </summary>
    public static bool IsEncoder(string size) => size == "minilm";

    /// <summary>Config of a size; tiny is the builtin model itself.</summary>
    public static ModelConfig Config(string size, int vocab) => size switch
    {
        // 6 × (0.79M attention + 2.11M MLP) + 2 × 8192 × 512 untied embeddings ≈ 25.8M
        "25m" => Llama(vocab: 8192, hidden: 512, intermediate: 1376, layers: 6, heads: 8, kvHeads: 4),
        // 12 × (2.36M + 4.72M) + 2 × 16384 × 768 ≈ 110M
        "110m" => Llama(vocab: 16384, hidden: 768, intermediate: 2048, layers: 12, heads: 12, kvHeads: 12),
        _ => throw new ArgumentException($"unknown size '{size}'; use one of {string.Join(", ", Names)}"),
    };

    private static ModelConfig Llama(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads) => new()
    {
        ModelType = "llama", VocabSize = vocab, HiddenSize = hidden, IntermediateSize = intermediate, NumHiddenLayers = layers,
        NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, HeadDim = hidden / heads, RmsNormEps = 1e-5, RopeTheta = 10000,
        MaxPositionEmbeddings = 4096, TieWordEmbeddings = false, TorchDtype = "float32",
    };

    /// <summary>The folder of a size, written on first use: config.json, the builtin tokenizer files, model.safetensors.</summary>
    public static string Materialize(string size, string cacheRoot)
    {
        if (size == "minilm") return BuiltinModels.Materialize("minilm");
        string tinyFolder = BuiltinModels.Materialize("tiny-llama");
        if (size == "tiny") return tinyFolder;
        var config = Config(size, vocab: 0);
        string folder = Path.Combine(cacheRoot, $"bench-{size}-v1");
        if (File.Exists(Path.Combine(folder, "model.safetensors"))) return folder;
        Directory.CreateDirectory(folder);
        // The benchmark feeds random ids, so the builtin tokenizer only has to load; vocab_size may exceed it (as in real models).
        foreach (string f in Directory.GetFiles(tinyFolder).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal) && !f.EndsWith("config.json", StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(folder, Path.GetFileName(f)), overwrite: true);
        File.Copy(Path.Combine(tinyFolder, "tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"), overwrite: true);
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson());
        WriteWeights(config, Path.Combine(folder, "model.safetensors"));
        return folder;
    }

    /// <summary>HF initialisation: N(0, 0.02) matrices, ones for norms, the head at 1/√hidden (unit-variance logits).</summary>
    private static void WriteWeights(ModelConfig config, string path)
    {
        using var scope = NewDisposeScope();
        using var model = ModelFamilies.Create(config);
        var generator = new Generator(20260107);
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in model.named_parameters())
        {
            tensors[name] = name.EndsWith("norm.weight", StringComparison.Ordinal) ? ones(p.shape)
                : name == "lm_head.weight" ? randn(p.shape, generator: generator) / Math.Sqrt(config.HiddenSize)
                : randn(p.shape, generator: generator) * 0.02;
        }
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }
}
