using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace LoraRecipes.Build;

/// <summary>
/// The two trainer versions that take part in the plan fingerprint (<c>PlanOptions.ToolVersion</c> and
/// <c>BuiltinModelVersion</c>), read from the attributes of the trainer's <c>LoraRecipes.dll</c> through
/// System.Reflection.Metadata: the assembly is never loaded, so TorchSharp never enters the MSBuild node.
/// </summary>
internal sealed record TrainerVersion(string ToolVersion, string BuiltinModelVersion)
{
    /// <summary>The core library's file name; it sits beside the trainer's entry point.</summary>
    public const string CoreAssemblyFile = "LoraRecipes.dll";

    private const string BuiltinModelVersionKey = "LoraRecipes.BuiltinModelVersion";

    /// <summary>Reads the versions from the <c>LoraRecipes.dll</c> beside <paramref name="trainerPath"/>; null when it is not there or has no such attributes.</summary>
    public static TrainerVersion? ReadBeside(string trainerPath)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(trainerPath));
        string core = Path.Combine(folder ?? "", CoreAssemblyFile);
        return File.Exists(core) ? Read(core) : null;
    }

    /// <summary>Reads the versions from a <c>LoraRecipes.dll</c>.</summary>
    public static TrainerVersion? Read(string coreAssembly)
    {
        using var stream = File.OpenRead(coreAssembly);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata) return null;
        var reader = pe.GetMetadataReader();
        string? informational = null, builtin = null;
        foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = reader.GetCustomAttribute(handle);
            var blob = reader.GetBlobReader(attribute.Value);
            if (blob.ReadUInt16() != 1) continue;   // custom attribute blob prolog
            switch (AttributeTypeName(reader, attribute))
            {
                case "AssemblyInformationalVersionAttribute":
                    informational = blob.ReadSerializedString();
                    break;
                case "AssemblyMetadataAttribute" when blob.ReadSerializedString() == BuiltinModelVersionKey:
                    builtin = blob.ReadSerializedString();
                    break;
            }
        }
        // ToolInfo.Version drops the '+<commit>' suffix the SDK appends.
        return informational is null || builtin is null ? null : new TrainerVersion(informational.Split('+')[0], builtin);
    }

    private static string? AttributeTypeName(MetadataReader reader, CustomAttribute attribute)
    {
        if (attribute.Constructor.Kind != HandleKind.MemberReference) return null;
        var parent = reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent;
        return parent.Kind == HandleKind.TypeReference ? reader.GetString(reader.GetTypeReference((TypeReferenceHandle)parent).Name) : null;
    }
}
