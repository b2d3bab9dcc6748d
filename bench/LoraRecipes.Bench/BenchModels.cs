using LoraRecipes.IO;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary>The benchmark's model sizes: HF-format Llama-style folders with random weights, generated once into a cache.</summary>
internal static class BenchModels
{
    /// <summary>Names accepted by <c>--sizes</c>.</summary>
    public static readonly string[] Names = ["tiny", "25m", "44m", "44m-untied", "44m-gqa", "152k", "110m", "minilm"];

    /// <summary>
    /// Sizes whose rows take ~10 s a step on 2 cores (the peer's half included): the default run gives them
    /// <see cref="BenchOptions.LargeSteps"/> steps instead of 12 (too few for the memory check, which needs more than 10).
    /// </summary>
    public static bool IsLarge(string size) => size is "44m" or "44m-untied" or "44m-gqa" or "152k" or "110m";

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
        // llama2.c's 44M shape (its stories42M: dim 512, 8 layers, 8 heads, no GQA, FFN 1536, vocab 32,000, tied
        // embeddings): 8 × (1.05M attention + 2.36M MLP) + 32000 × 512 ≈ 43.7M; untied adds the 16.4M head.
        "44m" => Llama(vocab: 32000, hidden: 512, intermediate: 1536, layers: 8, heads: 8, kvHeads: 8, tied: true),
        "44m-untied" => Llama(vocab: 32000, hidden: 512, intermediate: 1536, layers: 8, heads: 8, kvHeads: 8),
        "44m-gqa" => Llama(vocab: 32000, hidden: 512, intermediate: 1536, layers: 8, heads: 8, kvHeads: 2, tied: true),
        // Qwen2.5's vocabulary (151,936, tied) on a shallow 512-wide decoder: the head is 2/3 of the FLOPs, as in
        // the small Qwen models; 2 × (0.59M + 2.36M) + 151936 × 512 ≈ 83.7M.
        "152k" => Llama(vocab: 151936, hidden: 512, intermediate: 1536, layers: 2, heads: 8, kvHeads: 2, tied: true),
        _ => throw new ArgumentException($"unknown size '{size}'; use one of {string.Join(", ", Names)}"),
    };

    private static ModelConfig Llama(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads, bool tied = false) => new()
    {
        ModelType = "llama", VocabSize = vocab, HiddenSize = hidden, IntermediateSize = intermediate, NumHiddenLayers = layers,
        NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, HeadDim = hidden / heads, RmsNormEps = 1e-5, RopeTheta = 10000,
        MaxPositionEmbeddings = 4096, TieWordEmbeddings = tied, TorchDtype = "float32",
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

    /// <summary>
    /// HF initialisation: N(0, 0.02) matrices, ones for norms, an untied head at 1/√hidden (unit-variance logits). A tied
    /// model's file holds the embeddings only (as HF writes tied checkpoints); the loader ties the head to them.
    /// </summary>
    private static void WriteWeights(ModelConfig config, string path)
    {
        using var scope = NewDisposeScope();
        using var model = ModelFamilies.Create(config);
        var generator = new Generator(20260107);
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in model.named_parameters())
        {
            if (config.TieWordEmbeddings && name == "lm_head.weight") continue;
            tensors[name] = name.EndsWith("norm.weight", StringComparison.Ordinal) ? ones(p.shape)
                : name == "lm_head.weight" ? randn(p.shape, generator: generator) / Math.Sqrt(config.HiddenSize)
                : randn(p.shape, generator: generator) * 0.02;
        }
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }
}
