using LoraRecipes.Events;
using LoraRecipes.Recipes;

namespace LoraRecipes.Training;

/// <summary>Settings the schema accepts but this version cannot train yet: refused up front, never silently ignored.</summary>
public static class PlanSupport
{
    /// <summary>Throws a <see cref="TrainingException"/> (invalid input: exit code 1) naming the setting and what to use instead.</summary>
    public static void EnsureTrainable(TrainingPlan plan)
    {
        var r = plan.Recipe;
        if (r.Lora.Bias != LoraBias.None)
            Refuse("lora.bias", "only 'none' is supported; biases stay frozen");
        if (r.Lora.ModulesToSave.Count > 0 && r.Task == TaskType.CausalLm)
            Refuse("lora.modules_to_save", "fully trained extra modules are not supported for causal-lm yet (sequence-classification only); remove the key");
        // task and data.format must agree (the recipe validator reports a mismatch); guard plans built in code too.
        if ((r.Task == TaskType.SequenceClassification) != (r.Data.Format == DataFormat.Classification))
            Refuse($"data.format with task {YamlNames.ToYaml(r.Task, ["causal-lm", "sequence-classification"])}",
                "sequence-classification goes with data.format: classification, causal-lm with alpaca, messages or text");
    }

    private static void Refuse(string setting, string why) =>
        throw new TrainingException($"{setting} is not supported: {why}.", FailureKind.InvalidInput);
}
