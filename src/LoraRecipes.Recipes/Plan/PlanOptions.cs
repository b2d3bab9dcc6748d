namespace LoraRecipes.Recipes;

/// <summary>Inputs to <see cref="TrainingPlan.Resolve"/> that do not come from the recipe.</summary>
public sealed record PlanOptions
{
    /// <summary>Output folder that replaces <c>output.dir</c> (made absolute against the current directory); null keeps the recipe's.</summary>
    public string? OutputDirOverride { get; init; }

    /// <summary>Device that replaces <c>training.device</c> (<c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>); null keeps the recipe's.</summary>
    public string? DeviceOverride { get; init; }

    /// <summary>The trainer's version; part of the fingerprint, so a new trainer retrains.</summary>
    public string ToolVersion { get; init; } = "unspecified";

    /// <summary>Version of the builtin-model generator; part of the fingerprint of <c>builtin:</c> recipes.</summary>
    public string BuiltinModelVersion { get; init; } = "1";
}
