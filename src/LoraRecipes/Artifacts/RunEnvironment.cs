namespace LoraRecipes.Artifacts;

/// <summary>Where a run executed: what the manifest needs to reproduce it.</summary>
public sealed record RunEnvironment(string Device, int Threads, string Precision);
