namespace LoraRecipes.Recipes;

/// <summary>
/// A validated recipe (schema v1) with every default filled: <c>extends:</c> merged and overrides applied.
/// Equality compares what is trained, not where it was read from (<see cref="Origin"/> is ignored).
/// Load one with <see cref="RecipeLoader.Load"/>.
/// </summary>
public sealed record Recipe
{
    /// <summary><c>name</c>: recipe name ([a-z0-9._-]).</summary>
    public required string Name { get; init; }

    /// <summary><c>base_model</c>: <c>builtin:&lt;name&gt;</c>, an HF folder relative to the recipe, or a hub id <c>org/name[@revision]</c>.</summary>
    public required string BaseModel { get; init; }

    /// <summary><c>task</c>: what the adapter is trained for.</summary>
    public required TaskType Task { get; init; }

    /// <summary><c>method</c>: the parameter-efficient method (default lora).</summary>
    public AdapterMethod Method { get; init; }

    /// <summary><c>ia3</c>: IA3 settings (used when <see cref="Method"/> is <see cref="AdapterMethod.Ia3"/>).</summary>
    public Ia3Options Ia3 { get; init; } = new();

    /// <summary><c>bottleneck_adapter</c>: bottleneck adapter settings (used when <see cref="Method"/> is <see cref="AdapterMethod.BottleneckAdapter"/>).</summary>
    public BottleneckAdapterOptions BottleneckAdapter { get; init; } = new();

    /// <summary><c>freeze</c>: top-layer fine-tuning settings (used when <see cref="Method"/> is <see cref="AdapterMethod.Freeze"/>).</summary>
    public FreezeOptions Freeze { get; init; } = new();
    /// <summary><c>prompt_tuning</c>: prompt tuning settings (used when <see cref="Method"/> is <see cref="AdapterMethod.PromptTuning"/>).</summary>
    public PromptTuningOptions PromptTuning { get; init; } = new();

    /// <summary><c>p_tuning</c>: p-tuning settings (used when <see cref="Method"/> is <see cref="AdapterMethod.PTuning"/>).</summary>
    public PTuningOptions PTuning { get; init; } = new();

    /// <summary><c>prefix_tuning</c>: prefix tuning settings (used when <see cref="Method"/> is <see cref="AdapterMethod.PrefixTuning"/>).</summary>
    public PrefixTuningOptions PrefixTuning { get; init; } = new();

    /// <summary><c>data</c>: training and validation data.</summary>
    public required DataOptions Data { get; init; }

    /// <summary><c>lora</c>: adapter shape.</summary>
    public required LoraOptions Lora { get; init; }

    /// <summary><c>training</c>: optimisation.</summary>
    public required TrainingOptions Training { get; init; }

    /// <summary><c>evaluation</c>: validation during training.</summary>
    public required EvaluationOptions Evaluation { get; init; }

    /// <summary><c>output</c>: where the artifacts go.</summary>
    public required OutputOptions Output { get; init; }

    /// <summary>The file, base files, overrides and value positions this recipe was read from.</summary>
    public required RecipeOrigin Origin { get; init; }

    /// <inheritdoc/>
    public bool Equals(Recipe? other) =>
        other is not null
        && Name == other.Name
        && BaseModel == other.BaseModel
        && Task == other.Task
        && Method == other.Method
        && Ia3 == other.Ia3
        && BottleneckAdapter == other.BottleneckAdapter
        && Freeze == other.Freeze
        && PromptTuning == other.PromptTuning
        && PTuning == other.PTuning
        && PrefixTuning == other.PrefixTuning
        && Data == other.Data
        && Lora == other.Lora
        && Training == other.Training
        && Evaluation == other.Evaluation
        && Output == other.Output;

    /// <inheritdoc/>
    public override int GetHashCode() =>
        HashCode.Combine(HashCode.Combine(Name, BaseModel, Task, Method, Ia3, BottleneckAdapter), HashCode.Combine(Freeze, PromptTuning, PTuning, PrefixTuning), Data, Lora, Training, Evaluation, Output);
}
