namespace LoraRecipes.Recipes;

/// <summary><c>bottleneck_adapter:</c> — Houlsby/Pfeiffer bottleneck adapters, used when <c>method: bottleneck_adapter</c>.</summary>
public sealed record BottleneckAdapterOptions
{
    /// <summary><c>reduction_factor</c>: bottleneck width = hidden / reduction_factor (rounded down, at least 1); ignored when <see cref="BottleneckSize"/> is set.</summary>
    public double ReductionFactor { get; init; } = 16;

    /// <summary><c>bottleneck_size</c>: the bottleneck width itself; null: from <see cref="ReductionFactor"/>.</summary>
    public int? BottleneckSize { get; init; }

    /// <summary><c>non_linearity</c>: the activation between the projections.</summary>
    public BottleneckActivation NonLinearity { get; init; } = BottleneckActivation.Relu;

    /// <summary><c>placement</c>: after the attention output, the feed-forward output, or both.</summary>
    public BottleneckPlacement Placement { get; init; } = BottleneckPlacement.Ffn;

    /// <summary><c>init</c>: how the projections start (default: up zero, so step 0 is the base model).</summary>
    public BottleneckInit Init { get; init; } = BottleneckInit.Default;

    /// <summary><c>dropout</c>: dropout on the adapter's output before the residual sum.</summary>
    public double Dropout { get; init; }
}
