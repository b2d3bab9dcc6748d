using System.Runtime.CompilerServices;

namespace LoraRecipes.Tests;

internal static class NativeSetup
{
    /// <summary>Tests may touch TorchSharp before any LoraRecipes type: prepare the native library first.</summary>
    [ModuleInitializer]
    internal static void Initialize() => LoraRecipes.Native.LibTorchLoader.EnsureInitialized();
}
