using System.Reflection;

// Read (without loading this assembly or TorchSharp) by the LoraRecipes.Build tasks, which must compute the
// same plan fingerprint as the trainer: PlanOptions.BuiltinModelVersion is part of it.
[assembly: AssemblyMetadata(LoraRecipes.Runtime.TrainerMetadata.BuiltinModelVersionKey, LoraRecipes.Models.BuiltinModels.Version)]

namespace LoraRecipes.Runtime;

/// <summary>Keys of the assembly metadata that tools read from LoraRecipes.dll without loading it.</summary>
public static class TrainerMetadata
{
    /// <summary>The <see cref="AssemblyMetadataAttribute"/> key holding <see cref="Models.BuiltinModels.Version"/>.</summary>
    public const string BuiltinModelVersionKey = "LoraRecipes.BuiltinModelVersion";
}
