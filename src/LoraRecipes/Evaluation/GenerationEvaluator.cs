using LoraRecipes.Data;

namespace LoraRecipes.Evaluation;

/// <summary>Generation metrics over alpaca records, with the hypotheses they were computed from.</summary>
public sealed record GenerationResult(IReadOnlyDictionary<string, double> Metrics, IReadOnlyList<(string Prompt, string Reference, string Hypothesis)> Samples);

/// <summary>
/// Greedy generation for every alpaca record (instruction + input formatted with the adapter's template),
/// scored against the record's output with <see cref="GenerationMetrics"/>.
/// </summary>
public static class GenerationEvaluator
{
    public static GenerationResult Evaluate(AdaptedModel model, string dataFile, IReadOnlyList<string> metrics, int maxNewTokens = 128, int? limit = null)
    {
        var unknown = metrics.Except(GenerationMetrics.Names).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"unknown generation metric '{unknown[0]}'; use {string.Join(", ", GenerationMetrics.Names)}.");
        var records = DataReader.Read(dataFile, "alpaca");
        var options = model.WithStops(new GenerationOptions { MaxNewTokens = maxNewTokens, Temperature = 0 });
        return Evaluate(model.Model.Module, model.Model.Tokenizer, model.Formatter, limit is { } n ? records.Take(n).ToList() : records, metrics, options);
    }

    /// <summary>
    /// Greedy generation (<paramref name="options"/>: temperature 0, bounded new tokens, the template's stop strings) for each
    /// alpaca record, scored with the named <paramref name="metrics"/>; the trainer calls this at each evaluation.
    /// </summary>
    public static GenerationResult Evaluate(TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> module, Tokenization.TextTokenizer tokenizer,
        PromptFormatter formatter, IReadOnlyList<DataRecord> records, IReadOnlyList<string> metrics, GenerationOptions options, TorchSharp.torch.Device? device = null)
    {
        var samples = new List<(string, string, string)>();
        foreach (var record in records)
        {
            string prompt = formatter.FormatPrompt(record.Instruction, record.Input);
            string hypothesis = TextGenerator.Generate(module, tokenizer, prompt, options, device);
            samples.Add((record.Input.Length == 0 ? record.Instruction : record.Instruction + "\n" + record.Input, record.Output, hypothesis));
        }
        var hyps = samples.Select(s => s.Item3).ToList();
        var refs = samples.Select(s => s.Item2).ToList();
        var values = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (string metric in metrics.Distinct())
        {
            values[metric] = metric switch
            {
                "exact_match" => GenerationMetrics.ExactMatch(hyps, refs),
                "bleu" => GenerationMetrics.Bleu(hyps, refs),
                _ => GenerationMetrics.RougeL(hyps, refs),
            };
        }
        return new GenerationResult(values, samples);
    }
}
