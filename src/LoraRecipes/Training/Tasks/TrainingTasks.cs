using LoraRecipes.Models;
using LoraRecipes.Recipes;

namespace LoraRecipes.Training.Tasks;

/// <summary>The task registry: one <see cref="ITrainingTask"/> per <c>task:</c> value.</summary>
public static class TrainingTasks
{
    /// <summary>The task of <paramref name="plan"/>; sequence classification reads its data here to fix the labels (and the head's size).</summary>
    public static ITrainingTask For(TrainingPlan plan, string modelFolder) => plan.Recipe.Task switch
    {
        TaskType.CausalLm => new CausalLmTask(plan),
        TaskType.SequenceClassification => SequenceClassificationTask.Create(plan, modelFolder),
        _ => throw new ArgumentOutOfRangeException(nameof(plan), plan.Recipe.Task, "unknown task"),
    };

    /// <summary>The id batches are padded with: the tokenizer's pad token, else end-of-sequence, else 0.</summary>
    public static int PadId(LoadedModel model) => model.Tokenizer.PadId ?? model.Tokenizer.EosId ?? 0;
}
