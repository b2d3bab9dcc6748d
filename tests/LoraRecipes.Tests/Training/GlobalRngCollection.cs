namespace LoraRecipes.Tests.Training;

/// <summary>
/// Tests whose result depends on the exact draws of torch's process-wide generator (LoRA dropout uses it): run alone,
/// because a test training in parallel draws from the same generator and shifts the sequence.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "torch global RNG";
}
