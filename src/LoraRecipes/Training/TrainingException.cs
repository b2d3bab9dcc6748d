using LoraRecipes.Events;

namespace LoraRecipes.Training;

/// <summary>A failure the user can act on, with the kind the CLI maps to an exit code (<c>Failures</c>) and the build to an error code.</summary>
public sealed class TrainingException(string message, FailureKind kind, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Invalid input (nothing trained) or a failed training.</summary>
    public FailureKind Kind { get; } = kind;
}
