using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>
/// What <c>task: sequence-classification</c> changes in <see cref="LoraTrainer"/>: the model is loaded with a
/// classification head sized to the data's labels, the head modules are trained in full (PEFT's
/// <c>modules_to_save</c>), the loss is the mean cross-entropy per example, and evaluation reports accuracy,
/// macro-F1 and the confusion matrix. Everything else (optimizer, schedule, accumulation, clipping,
/// checkpoints, resume) is the trainer's, unchanged.
/// </summary>
internal sealed class ClassificationTask
{
    private readonly TrainingPlan _plan;
    private readonly IReadOnlyList<DataRecord> _train;
    private readonly IReadOnlyList<DataRecord> _validation;

    private ClassificationTask(TrainingPlan plan, IReadOnlyList<DataRecord> train, IReadOnlyList<DataRecord> validation, LabelSet labels)
    {
        (_plan, _train, _validation, Labels) = (plan, train, validation, labels);
    }

    /// <summary>The classes, by id: the head's size and the adapter's <c>id2label</c>.</summary>
    public LabelSet Labels { get; }

    /// <summary>
    /// Reads and splits the data and fixes the label set (see <see cref="LabelSet.FromData"/>) against the base
    /// model's config.json; null for a causal-lm plan.
    /// </summary>
    public static ClassificationTask? For(TrainingPlan plan, string modelFolder)
    {
        if (plan.Recipe.Task != TaskType.SequenceClassification) return null;
        var records = DataReader.Read(plan.TrainPath, "classification");
        IReadOnlyList<DataRecord> train = records, validation = Array.Empty<DataRecord>();
        if (plan.ValidationPath is { } validationPath) validation = DataReader.Read(validationPath, "classification");
        else (train, validation) = DatasetSplit.Split(records, plan.Recipe.Data.ValidationSplit, (ulong)plan.Recipe.Training.Seed);
        var modelLabels = ModelConfig.Load(Path.Combine(modelFolder, "config.json")).Labels;
        // Labels come from the training file (a validation label missing there is reported, with its record, at Encode).
        var labels = LabelSet.FromData(plan.TrainPath, train, modelLabels);
        if (labels.Count < 2)
            throw new TrainingException($"{plan.TrainPath}: every training record has the label '{labels.Names[0]}'; a classifier needs at least two classes.", ExitCodes.InvalidInput);
        return new ClassificationTask(plan, train, validation, labels);
    }

    /// <summary>The head modules of the model plus the recipe's <c>lora.modules_to_save</c>: trained in full and saved.</summary>
    public static IReadOnlyList<string> ModulesToSave(ISequenceClassifier classifier, LoraOptions lora) =>
        classifier.HeadModules.Concat(lora.ModulesToSave).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Tokenizes train and validation records (class id as the single label).</summary>
    public TrainingData Encode(TextTokenizer tokenizer)
    {
        int maxLength = _plan.Recipe.Data.MaxLength;
        var train = ClassificationData.Encode(_plan.TrainPath, _train, tokenizer, Labels, maxLength);
        var validation = ClassificationData.Encode(_plan.ValidationPath ?? _plan.TrainPath, _validation, tokenizer, Labels, maxLength);
        var warnings = new List<string>();
        int truncated = _train.Concat(_validation).Count(r => tokenizer.Encode(r.Text ?? "", addSpecialTokens: true).Count > maxLength);
        if (truncated > 0) warnings.Add($"{truncated} record(s) were longer than data.max_length = {maxLength} tokens and were truncated.");
        if (validation.Count == 0) warnings.Add("no validation data (data.validation_split is 0 and data.validation is null): accuracy is not measured.");
        return new TrainingData(train, validation, warnings);
    }

    /// <summary>Summed cross-entropy of one micro-batch (the caller divides by the examples of the whole window); and its tokens.</summary>
    public static (Tensor LossSum, long Tokens) LossSum(ISequenceClassifier classifier, IReadOnlyList<TokenizedExample> examples, int padId, Device device)
    {
        var (ids, mask, labels) = ClassificationData.Collate(examples, padId, device);
        var logits = classifier.Classify(ids, mask).to(ScalarType.Float32);                    // (B, L)
        return (nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum), examples.Sum(e => (long)e.InputIds.Length));
    }

    /// <summary>Evaluates on the validation split, logs and emits <see cref="ClassificationEvaluated"/>; classifies the sample texts.</summary>
    public LossResult? Evaluate(ISequenceClassifier classifier, TextTokenizer tokenizer, TrainingData data, int padId, Device device, int step,
        MetricsLog log, Action<TrainingEvent> emit, bool samples)
    {
        LossResult? result = null;
        var recipe = _plan.Recipe;
        if (data.Validation.Count > 0 && !recipe.Evaluation.Never)
        {
            var r = ClassificationEvaluator.Evaluate(classifier, data.Validation, recipe.Training.BatchSize, padId, device);
            var e = new ClassificationEvaluated(step, r.Loss, r.Accuracy, r.MacroF1, r.Labels, r.Metrics.Confusion, r.Metrics.Count);
            log.Add(e);
            emit(e);
            result = new LossResult(r.Loss, double.NaN, r.Metrics.Count);
        }
        if (samples || step == 0)
        {
            foreach (string text in recipe.Evaluation.Samples)
            {
                var probs = ClassificationEvaluator.Probabilities(classifier, tokenizer, text, recipe.Data.MaxLength, device);
                int best = Array.IndexOf(probs, probs.Max());
                var e = new SampleGenerated(step, text, FormattableString.Invariant($"{classifier.Labels[best]} (p={probs[best]:F3})"));
                log.Add(e);
                emit(e);
            }
        }
        return result;
    }

    /// <summary>Accuracy before training and at the end, and the final macro-F1, from the logged evaluations.</summary>
    public static TrainingSummary WithAccuracy(TrainingSummary summary, MetricsLog log)
    {
        var evaluations = log.Events.OfType<ClassificationEvaluated>().ToList();
        if (evaluations.Count == 0) return summary;
        return summary with
        {
            InitialAccuracy = evaluations.FirstOrDefault(e => e.Step == 0)?.Accuracy,
            FinalAccuracy = evaluations[^1].Accuracy,
            FinalMacroF1 = evaluations[^1].MacroF1,
        };
    }
}
