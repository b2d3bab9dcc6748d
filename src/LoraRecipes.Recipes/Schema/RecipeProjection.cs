namespace LoraRecipes.Recipes.Schema;

/// <summary>
/// The inverse of <see cref="RecipeFactory"/>: the YAML-level value (string, long, double, bool, null or
/// string[]) of every schema key in a <see cref="Recipe"/>. Feeds the resolved YAML and the canonical JSON.
/// </summary>
internal static class RecipeProjection
{
    /// <summary>Every value key (no sections, no <c>extends</c>) with its value, in schema order.</summary>
    public static IEnumerable<(RecipeSchemaEntry Entry, object? Value)> Values(Recipe recipe) =>
        RecipeSchema.Entries
            .Where(e => e.Type != RecipeValueType.Section && e.Path != "extends")
            .Select(e => (e, ValueOf(recipe, e)));

    private static object? ValueOf(Recipe r, RecipeSchemaEntry e) => e.Path switch
    {
        "name" => r.Name,
        "base_model" => r.BaseModel,
        "task" => Choice(r.Task, e),
        "method" => Choice(r.Method, e),
        "ia3.target_modules" => Modules(r.Ia3.TargetModules),
        "ia3.feedforward_modules" => Modules(r.Ia3.FeedforwardModules),
        "bottleneck_adapter.reduction_factor" => r.BottleneckAdapter.ReductionFactor,
        "bottleneck_adapter.bottleneck_size" => (long?)r.BottleneckAdapter.BottleneckSize,
        "bottleneck_adapter.non_linearity" => Choice(r.BottleneckAdapter.NonLinearity, e),
        "bottleneck_adapter.placement" => Choice(r.BottleneckAdapter.Placement, e),
        "bottleneck_adapter.init" => Choice(r.BottleneckAdapter.Init, e),
        "bottleneck_adapter.dropout" => r.BottleneckAdapter.Dropout,
        "freeze.trainable_layers" => (long)r.Freeze.TrainableLayers,
        "freeze.modules" => r.Freeze.AllBlockModules ? FreezeOptions.AllModules : r.Freeze.Modules.ToArray(),
        "freeze.extra_modules" => r.Freeze.ExtraModules.ToArray(),
        "freeze.train_head" => r.Freeze.TrainHead,
        "freeze.unfreeze_schedule.every" => (long?)r.Freeze.UnfreezeEvery,
        "freeze.unfreeze_schedule.unit" => Choice(r.Freeze.UnfreezeUnit, e),
        "freeze.unfreeze_schedule.max_layers" => (long?)r.Freeze.MaxLayers,
        "prompt_tuning.num_virtual_tokens" => (long)r.PromptTuning.NumVirtualTokens,
        "prompt_tuning.init" => Choice(r.PromptTuning.Init, e),
        "prompt_tuning.init_text" => r.PromptTuning.InitText,
        "p_tuning.num_virtual_tokens" => (long)r.PTuning.NumVirtualTokens,
        "p_tuning.encoder" => Choice(r.PTuning.Encoder, e),
        "p_tuning.encoder_hidden_size" => (long?)r.PTuning.EncoderHiddenSize,
        "p_tuning.encoder_num_layers" => (long)r.PTuning.EncoderNumLayers,
        "p_tuning.encoder_dropout" => r.PTuning.EncoderDropout,
        "prefix_tuning.num_virtual_tokens" => (long)r.PrefixTuning.NumVirtualTokens,
        "prefix_tuning.prefix_projection" => r.PrefixTuning.PrefixProjection,
        "prefix_tuning.encoder_hidden_size" => (long?)r.PrefixTuning.EncoderHiddenSize,
        "data.train" => r.Data.Train,
        "data.validation" => r.Data.Validation,
        "data.validation_split" => r.Data.ValidationSplit,
        "data.format" => Choice(r.Data.Format, e),
        "data.prompt_template" => Choice(r.Data.PromptTemplate, e),
        "data.max_length" => (long)r.Data.MaxLength,
        "data.train_on_inputs" => r.Data.TrainOnInputs,
        "data.packing" => r.Data.Packing,
        "lora.r" => (long)r.Lora.R,
        "lora.alpha" => r.Lora.Alpha,
        "lora.dropout" => r.Lora.Dropout,
        "lora.target_modules" => r.Lora.TargetsAllLinear ? LoraOptions.AllLinear : r.Lora.TargetModules.ToArray(),
        "lora.init" => r.Lora.PissaNiter is { } niter ? LoraOptions.PissaNiterPrefix + niter.ToString(System.Globalization.CultureInfo.InvariantCulture) : Choice(r.Lora.Init, e),
        "lora.use_rslora" => r.Lora.UseRslora,
        "lora.use_dora" => r.Lora.UseDora,
        "lora.bias" => Choice(r.Lora.Bias, e),
        "lora.modules_to_save" => r.Lora.ModulesToSave.ToArray(),
        "training.epochs" => (long)r.Training.Epochs,
        "training.max_steps" => (long?)r.Training.MaxSteps,
        "training.batch_size" => (long)r.Training.BatchSize,
        "training.gradient_accumulation" => (long)r.Training.GradientAccumulation,
        "training.learning_rate" => r.Training.LearningRate,
        "training.weight_decay" => r.Training.WeightDecay,
        "training.scheduler" => Choice(r.Training.Scheduler, e),
        "training.warmup_ratio" => r.Training.WarmupRatio,
        "training.max_grad_norm" => r.Training.MaxGradNorm,
        "training.seed" => (long)r.Training.Seed,
        "training.device" => r.Training.Device,
        "training.precision" => Choice(r.Training.Precision, e),
        "training.checkpoint_every" => (long)r.Training.CheckpointEvery,
        "training.threads" => (long?)r.Training.Threads,
        "training.on_nan" => Choice(r.Training.OnNan, e),
        "evaluation.every" => r.Evaluation.Schedule == EvaluationSchedule.Steps
            ? (long)r.Evaluation.EverySteps!.Value
            : YamlNames.ToYaml(r.Evaluation.Schedule, ["epoch", "never"]),
        "evaluation.metrics" => r.Evaluation.Metrics.Select(m => YamlNames.ToYaml(m, e.Allowed)).ToArray(),
        "evaluation.samples" => r.Evaluation.Samples.ToArray(),
        "evaluation.keep" => Choice(r.Evaluation.Keep, e),
        "evaluation.early_stopping.metric" => Choice(r.Evaluation.EarlyStopping.Metric, e),
        "evaluation.early_stopping.patience" => (long?)r.Evaluation.EarlyStopping.Patience,
        "evaluation.early_stopping.min_delta" => r.Evaluation.EarlyStopping.MinDelta,
        "output.dir" => r.Output.Dir,
        _ => throw new InvalidOperationException($"No projection for schema key '{e.Path}'."),
    };

    private static object? Modules(ValueList<string>? modules) =>
        modules is null ? null : modules is [LoraOptions.AllLinear] ? LoraOptions.AllLinear : modules.ToArray();

    private static string Choice<T>(T value, RecipeSchemaEntry entry) where T : struct, Enum => YamlNames.ToYaml(value, entry.Allowed);
}
