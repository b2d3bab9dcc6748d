using LoraRecipes.Models;
using LoraRecipes.Tokenization;
using static TorchSharp.torch;

namespace LoraRecipes.Evaluation;

/// <summary>How to decode: greedy when <see cref="Temperature"/> is 0, else temperature + top-p sampling.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 128;
    /// <summary>0 means greedy.</summary>
    public double Temperature { get; init; }
    /// <summary>Nucleus mass kept when sampling.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Strings that end generation (besides EOS); not included in the output.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = Array.Empty<string>();
    /// <summary>Seed for sampling.</summary>
    public long Seed { get; init; } = 42;
}

/// <summary>
/// Autoregressive decoding with a KV cache: one forward over the prompt, then one token per step. The ids are decoded
/// as they come (<see cref="TokenTextStream"/>): a character split across byte-level tokens comes out whole, once.
/// </summary>
public static class TextGenerator
{
    /// <summary>
    /// Generates a continuation of <paramref name="prompt"/> (the prompt is encoded as the tokenizer's default, BOS
    /// included). <paramref name="onText"/>, when given, receives the text as it is generated, in whole characters;
    /// text that may be the start of a stop string is held back until it is known not to be, so the pieces joined
    /// equal the returned text. A character left incomplete when generation stops (MaxNewTokens between its tokens)
    /// is left out.
    /// </summary>
    public static string Generate(nn.Module<Tensor, Tensor> module, TextTokenizer tokenizer, string prompt, GenerationOptions options,
        Device? device = null, Action<string>? onText = null)
    {
        var lm = (ICausalLM)module;
        var ids = new List<int>();
        if (tokenizer.AddBosToken && tokenizer.BosId is { } bos) ids.Add(bos);
        ids.AddRange(tokenizer.Encode(prompt));
        var stopIds = new HashSet<int>(tokenizer.SpecialIds.Where(id => id != tokenizer.BosId && id != tokenizer.PadId));
        if (tokenizer.EosId is { } eos) stopIds.Add(eos);

        bool wasTraining = module.training;
        module.eval();
        var stream = tokenizer.CreateStream();
        var output = new GeneratedText(options.StopStrings, onText);
        var rng = new Random((int)options.Seed);
        try
        {
            using var guard = inference_mode();
            using var cache = new KvCache(lm.NumLayers);
            var next = ids.ToArray();
            long maxPositions = lm.Config.MaxPositionEmbeddings;
            for (int step = 0; step < options.MaxNewTokens && ids.Count + step < maxPositions; step++)
            {
                using var scope = NewDisposeScope();
                var input = tensor(next.Select(i => (long)i).ToArray(), new long[] { 1, next.Length }, ScalarType.Int64);
                if (device is not null) input = input.to(device);
                // The head at the last position only: a prompt of T tokens would otherwise cost T × V logits.
                var logits = lm.Head(lm.Hidden(input, cache)[0, -1]).to(ScalarType.Float32).cpu();   // (V)
                int token = Pick(logits, options, rng);
                if (stopIds.Contains(token)) break;
                if (output.Append(stream.Push(token))) break;   // a stop string appeared
                next = new[] { token };
            }
        }
        finally
        {
            if (wasTraining) module.train();
        }
        stream.Finish(dropIncomplete: true);
        return output.Complete();
    }

    private static int Pick(Tensor logits, GenerationOptions options, Random rng)
    {
        if (options.Temperature <= 0) return (int)logits.argmax().item<long>();
        var probs = nn.functional.softmax(logits / options.Temperature, 0).data<float>().ToArray();
        var order = Enumerable.Range(0, probs.Length).OrderByDescending(i => probs[i]).ToArray();
        double mass = 0;
        int keep = 0;
        while (keep < order.Length && (keep == 0 || mass < options.TopP)) mass += probs[order[keep++]];
        double r = rng.NextDouble() * mass;
        for (int k = 0; k < keep; k++)
        {
            r -= probs[order[k]];
            if (r <= 0) return order[k];
        }
        return order[keep - 1];
    }
}
