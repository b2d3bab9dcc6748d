using System.Diagnostics;
using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Bench;

/// <summary>
/// <c>--data FILE</c>: what batching computes on a real alpaca file (default recipes/data/medical.json, repeated
/// <c>--repeat</c> times): padding with random, length-grouped and packed batches, and tokenizing vs reading the token cache.
/// </summary>
internal static class DataBench
{
    public static void Run(string file, int repeat, int batchSize, int maxLength, string cache)
    {
        string folder = BuiltinModels.Materialize("tiny-llama");
        var tokenizer = TextTokenizer.Load(folder);
        var encoder = new ExampleEncoder(tokenizer, PromptFormatter.For(PromptTemplate.Alpaca), maxLength, trainOnInputs: false);
        string data = file;
        if (repeat > 1)
        {
            var records = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!.AsArray();
            data = Path.Combine(cache, $"data-x{repeat}.jsonl");
            File.WriteAllLines(data, Enumerable.Range(0, repeat).SelectMany(_ => records.Select(r => r!.ToJsonString())));
        }
        var tokenCache = new TokenCache(Path.Combine(cache, "tokens-bench"));
        if (Directory.Exists(tokenCache.Directory)) Directory.Delete(tokenCache.Directory, recursive: true);
        string key = TokenCache.Key(data, folder, $"alpaca|{maxLength}");
        var sw = Stopwatch.StartNew();
        var examples = tokenCache.GetOrAdd(key, () => DataReader.Read(data, "alpaca").Select(encoder.Encode).ToList());
        double encodeSeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var again = tokenCache.GetOrAdd(key, () => throw new InvalidOperationException("cache miss"));
        double cachedSeconds = sw.Elapsed.TotalSeconds;
        long tokens = examples.Sum(e => (long)e.InputIds.Length);
        Console.WriteLine($"{data}: {examples.Count} examples, {tokens} tokens (mean {tokens / (double)examples.Count:F0}, max {examples.Max(e => e.InputIds.Length)})");
        Console.WriteLine($"  read+tokenize {encodeSeconds:F2} s · token cache read {cachedSeconds:F3} s ({encodeSeconds / cachedSeconds:F0}× faster), {again.Count} examples");

        long Computed(IEnumerable<IReadOnlyList<TokenizedExample>> batches) => batches.Sum(b => (long)b.Count * b.Max(e => e.InputIds.Length));
        var random = DatasetSplit.Permutation(examples.Count, 42).Chunk(batchSize).Select(ix => (IReadOnlyList<TokenizedExample>)ix.Select(i => examples[i]).ToList());
        var grouped = LengthGrouping.Batches(examples, batchSize, 42).Select(ix => (IReadOnlyList<TokenizedExample>)ix.Select(i => examples[i]).ToList());
        var packed = SequencePacker.Pack(examples, maxLength);
        var packedBatches = packed.Chunk(batchSize).Select(b => (IReadOnlyList<TokenizedExample>)b);
        foreach (var (name, batches) in new[] { ("random batches", random), ("length-grouped", grouped), ("packed", packedBatches) })
        {
            long computed = Computed(batches);
            Console.WriteLine($"  {name,-15} computes {computed} positions for {tokens} tokens: {100.0 * (computed - tokens) / computed:F1}% padding");
        }
        Console.WriteLine($"  packed rows: {packed.Count} of ≤ {maxLength} tokens ({examples.Count / (double)packed.Count:F1} samples per row)");
    }
}
