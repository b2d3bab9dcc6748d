using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Events;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Training.Tasks;

/// <summary>
/// <c>task: causal-lm</c>: the decoder as it is, next-token loss on the response tokens (<see cref="CausalLmLoss"/>), data
/// tokenized through the token cache and packed when asked; evaluation reports validation loss and perplexity (plus the
/// generation metrics the recipe lists) and generates the sample prompts greedily.
/// </summary>
public sealed class CausalLmTask(TrainingPlan plan) : ITrainingTask
{
    /// <summary>Validation records scored by generation metrics: at most this many, so an evaluation stays cheap.</summary>
    internal const int GenerationRecords = 32;

    /// <summary>New tokens per generated answer at evaluation (greedy).</summary>
    internal const int GenerationTokens = 64;

    private IReadOnlyList<DataRecord>? _generationRecords;

    public ITaskLoss Loss => CausalLmLoss.Instance;

    public LoadedModel LoadModel(string folder, Device device, ScalarType dtype) => ModelLoader.Load(folder, device, dtype);

    public IReadOnlyList<string> ModulesToSave(LoadedModel model) => [];

    /// <summary>
    /// Tokenized once per data file × tokenizer × settings (bench/NOTES.md), then memory-mapped from the cache: each step decodes
    /// its own examples (issue #7). With packing, samples are laid end to end in rows of max_length, each row built when its
    /// step reads it; the loop sees rows as examples.
    /// </summary>
    public TrainingData LoadData(LoadedModel model, TokenCache? cache)
    {
        var data = TrainingData.Load(plan, model.Tokenizer, cache, model.Folder);
        return plan.Recipe.Data.Packing ? data with { Train = SequencePacker.PackLazily(data.Train, plan.Recipe.Data.MaxLength) } : data;
    }

    public double? Evaluate(LoadedModel model, TrainingData data, Device device, int step, bool samples, Action<TrainingEvent> report)
    {
        var recipe = plan.Recipe;
        int padId = TrainingTasks.PadId(model);
        LossResult? result = null;
        if (data.Validation.Count > 0 && !recipe.Evaluation.Never)
        {
            result = LossEvaluator.Evaluate(model.Module, data.Validation, recipe.Training.BatchSize, padId, device);
            report(new EvaluationCompleted(step, result.Loss, result.Perplexity, result.Tokens, GenerationMetricsFor(model, device)));
        }
        if (samples || step == 0)
        {
            var formatter = PromptFormatter.For(recipe.Data.PromptTemplate, model.Tokenizer);
            foreach (string prompt in recipe.Evaluation.Samples)
            {
                string text = TextGenerator.Generate(model.Module, model.Tokenizer, formatter.FormatPrompt(prompt),
                    new GenerationOptions { MaxNewTokens = 64, StopStrings = formatter.EndOfTurn.Length > 0 ? [formatter.EndOfTurn] : [] }, device);
                report(new SampleGenerated(step, prompt, text));
            }
        }
        return result?.Loss;
    }

    public TrainingSummary Summarize(TrainingSummary summary, IReadOnlyList<TrainingEvent> logged) => summary;

    /// <summary>
    /// evaluation.metrics' exact_match / bleu / rouge_l: greedy generation (≤ <see cref="GenerationTokens"/> new tokens) on the
    /// first <see cref="GenerationRecords"/> validation records (the recipe's validation file, or the same split the loss uses),
    /// scored against each record's output; null when the recipe lists none.
    /// </summary>
    private Dictionary<string, double>? GenerationMetricsFor(LoadedModel model, Device device)
    {
        var names = plan.Recipe.Evaluation.Metrics.Select(m => YamlNames.ToYaml(m, GenerationMetrics.Names.Concat(["loss", "perplexity", "accuracy", "f1"]))).Where(GenerationMetrics.Names.Contains).ToList();
        if (names.Count == 0) return null;
        if (_generationRecords is null)
        {
            var d = plan.Recipe.Data;
            IReadOnlyList<DataRecord> records;
            if (plan.ValidationPath is { } path) records = DataReader.Read(path, d.Format);
            else
            {
                var all = DataReader.Read(plan.TrainPath, d.Format);
                var (_, validation) = DatasetSplit.SplitIndices(all.Count, d.ValidationSplit, (ulong)plan.Recipe.Training.Seed);
                records = validation.Select(i => all[i]).ToList();
            }
            _generationRecords = records.Take(GenerationRecords).ToList();
        }
        if (_generationRecords.Count == 0) return null;
        var formatter = PromptFormatter.For(plan.Recipe.Data.PromptTemplate, model.Tokenizer);
        var options = new GenerationOptions { MaxNewTokens = GenerationTokens, Temperature = 0, StopStrings = formatter.EndOfTurn.Length > 0 ? [formatter.EndOfTurn] : [] };
        var result = GenerationEvaluator.Evaluate(model.Module, model.Tokenizer, formatter, _generationRecords, names, options, device);
        return new Dictionary<string, double>(result.Metrics, StringComparer.Ordinal);
    }
}
