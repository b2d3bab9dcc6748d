using LoraRecipes.Data;
using LoraRecipes.Events;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Training.Tasks;

/// <summary>
/// What a task changes in a training run — the model's shape, the data, the loss and the evaluation — behind one small
/// interface, so that <see cref="LoraTrainer"/> reads as fixed phases with no branch on the task. One implementation per
/// <c>task:</c> value (<see cref="CausalLmTask"/>, <see cref="SequenceClassificationTask"/>), picked once by <see cref="TrainingTasks.For"/>.
/// Everything else (optimizer, schedule, accumulation, clipping, checkpoints, resume, artifacts) is the trainer's.
/// </summary>
public interface ITrainingTask
{
    /// <summary>How a step batches examples and computes their loss (also what the benchmark's steps run).</summary>
    ITaskLoss Loss { get; }

    /// <summary>The base model as the task needs it (a classification head sized to the labels for sequence classification).</summary>
    LoadedModel LoadModel(string folder, Device device, ScalarType dtype);

    /// <summary>Modules trained in full beside LoRA and saved with the adapter (PEFT's <c>modules_to_save</c>); empty for none.</summary>
    IReadOnlyList<string> ModulesToSave(LoadedModel model);

    /// <summary>The train and validation examples, tokenized (and packed, where the recipe asks) for this task.</summary>
    TrainingData LoadData(LoadedModel model, TokenCache? cache);

    /// <summary>
    /// Evaluates at <paramref name="step"/> (0: before training): the validation metrics as an event, then, when
    /// <paramref name="samples"/> or at step 0, the recipe's sample prompts; each event goes to <paramref name="report"/> as it is
    /// made. Returns the validation loss, or null when there is no validation data.
    /// </summary>
    double? Evaluate(LoadedModel model, TrainingData data, Device device, int step, bool samples, Action<TrainingEvent> report);

    /// <summary>The run's summary with the task's own final figures added (accuracy, F1) from the logged events.</summary>
    TrainingSummary Summarize(TrainingSummary summary, IReadOnlyList<TrainingEvent> logged);
}
