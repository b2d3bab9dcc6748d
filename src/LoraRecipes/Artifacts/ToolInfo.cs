using System.Reflection;

namespace LoraRecipes.Artifacts;

/// <summary>Versions recorded in manifests and shown by <c>doctor</c>.</summary>
public static class ToolInfo
{
    /// <summary>This library's version.</summary>
    public static string Version { get; } =
        typeof(ToolInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>The TorchSharp assembly version.</summary>
    public static string TorchSharpVersion { get; } = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3) ?? "unknown";

    /// <summary>The libtorch version TorchSharp is running on.</summary>
    public static string LibTorchVersion => TorchSharp.torch.__version__;
}
