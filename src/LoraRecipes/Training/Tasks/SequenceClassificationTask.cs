using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Events;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Training.Tasks;

/// <summary>
/// <c>task: sequence-classification</c>: the model is loaded with a classification head sized to the data's labels, the head
/// modules are trained in full (PEFT's <c>modules_to_save</c>), the loss is the mean cross-entropy per example
/// (<see cref="ClassificationLoss"/>), and evaluation reports accuracy, macro-F1 and the confusion matrix and classifies the
/// sample texts.
/// </summary>
public sealed class SequenceClassificationTask : ITrainingTask
{
    private readonly TrainingPlan _plan;
    private readonly IReadOnlyList<DataRecord> _train;
    private readonly IReadOnlyList<DataRecord> _validation;

    private SequenceClassificationTask(TrainingPlan plan, IReadOnlyList<DataRecord> train, IReadOnlyList<DataRecord> validation, LabelSet labels)
    {
        (_plan, _train, _validation, Labels) = (plan, train, validation, labels);
    }

    /// <summary>The classes, by id: the head's size and the adapter's <c>id2label</c>.</summary>
    public LabelSet Labels { get; }

    public ITaskLoss Loss => ClassificationLoss.Instance;

    /// <summary>
    /// Reads and splits the data and fixes the label set (see <see cref="LabelSet.FromData"/>) against the base
    /// model's config.json.
    /// </summary>
    public static SequenceClassificationTask Create(TrainingPlan plan, string modelFolder)
    {
        var records = DataReader.Read(plan.TrainPath, "classification");
        IReadOnlyList<DataRecord> train = records, validation = Array.Empty<DataRecord>();
        if (plan.ValidationPath is { } validationPath) validation = DataReader.Read(validationPath, "classification");
        else (train, validation) = DatasetSplit.Split(records, plan.Recipe.Data.ValidationSplit, (ulong)plan.Recipe.Training.Seed);
        var modelLabels = ModelConfig.Load(Path.Combine(modelFolder, "config.json")).Labels;
        // Labels come from the training file (a validation label missing there is reported, with its record, at LoadData).
        var labels = LabelSet.FromData(plan.TrainPath, train, modelLabels);
        if (labels.Count < 2)
            throw new TrainingException($"{plan.TrainPath}: every training record has the label '{labels.Names[0]}'; a classifier needs at least two classes.", FailureKind.InvalidInput);
        return new SequenceClassificationTask(plan, train, validation, labels);
    }

    public LoadedModel LoadModel(string folder, Device device, ScalarType dtype) =>
        ModelLoader.Load(folder, device, dtype, sequenceClassification: true, labels: Labels.Names);

    /// <summary>The head modules of the model plus the recipe's <c>lora.modules_to_save</c>.</summary>
    public IReadOnlyList<string> ModulesToSave(LoadedModel model) => SavedModules.For(model.Classifier, _plan.Recipe.Lora);

    /// <summary>Tokenizes train and validation records (class id as the single label); they stay in memory (no token cache).</summary>
    public TrainingData LoadData(LoadedModel model, TokenCache? cache)
    {
        var tokenizer = model.Tokenizer;
        int maxLength = _plan.Recipe.Data.MaxLength;
        var train = ClassificationData.Encode(_plan.TrainPath, _train, tokenizer, Labels, maxLength);
        var validation = ClassificationData.Encode(_plan.ValidationPath ?? _plan.TrainPath, _validation, tokenizer, Labels, maxLength);
        var warnings = new List<string>();
        int truncated = _train.Concat(_validation).Count(r => tokenizer.Encode(r.Text ?? "", addSpecialTokens: true).Count > maxLength);
        if (truncated > 0) warnings.Add($"{truncated} record(s) were longer than data.max_length = {maxLength} tokens and were truncated.");
        if (validation.Count == 0) warnings.Add("no validation data (data.validation_split is 0 and data.validation is null): accuracy is not measured.");
        return new TrainingData(train, validation, warnings);
    }

    /// <summary>Evaluates on the validation split (<see cref="ClassificationEvaluated"/>); classifies the sample texts.</summary>
    public double? Evaluate(LoadedModel model, TrainingData data, Device device, int step, bool samples, Action<TrainingEvent> report)
    {
        var classifier = model.Classifier!;
        var recipe = _plan.Recipe;
        double? loss = null;
        if (data.Validation.Count > 0 && !recipe.Evaluation.Never)
        {
            var r = ClassificationEvaluator.Evaluate(classifier, data.Validation, recipe.Training.BatchSize, TrainingTasks.PadId(model), device);
            report(new ClassificationEvaluated(step, r.Loss, r.Accuracy, r.MacroF1, r.Labels, r.Metrics.Confusion, r.Metrics.Count));
            loss = r.Loss;
        }
        if (samples || step == 0)
        {
            foreach (string text in recipe.Evaluation.Samples)
            {
                var probs = ClassificationEvaluator.Probabilities(classifier, model.Tokenizer, text, recipe.Data.MaxLength, device);
                int best = Array.IndexOf(probs, probs.Max());
                report(new SampleGenerated(step, text, FormattableString.Invariant($"{classifier.Labels[best]} (p={probs[best]:F3})")));
            }
        }
        return loss;
    }

    /// <summary>Accuracy before training and at the end, and the final macro-F1, from the logged evaluations.</summary>
    public TrainingSummary Summarize(TrainingSummary summary, IReadOnlyList<TrainingEvent> logged)
    {
        var evaluations = logged.OfType<ClassificationEvaluated>().ToList();
        if (evaluations.Count == 0) return summary;
        return summary with
        {
            InitialAccuracy = evaluations.FirstOrDefault(e => e.Step == 0)?.Accuracy,
            FinalAccuracy = evaluations[^1].Accuracy,
            FinalMacroF1 = evaluations[^1].MacroF1,
        };
    }
}
