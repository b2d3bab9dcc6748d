namespace LoraRecipes.Export;

/// <summary>The distributed trainers a recipe exports to.</summary>
public enum ExportEngine
{
    /// <summary>axolotl (accelerate / torchrun; DeepSpeed ZeRO or FSDP).</summary>
    Axolotl,

    /// <summary>LLaMA-Factory (<c>llamafactory-cli train</c>; DeepSpeed ZeRO or FSDP through accelerate).</summary>
    LlamaFactory,
}

/// <summary>How the exported run shards the model and optimizer state across GPUs.</summary>
public enum ExportLauncher
{
    /// <summary>DeepSpeed ZeRO stage 2: optimizer state and gradients sharded, weights replicated.</summary>
    DeepSpeedZero2,

    /// <summary>DeepSpeed ZeRO stage 3: weights sharded too.</summary>
    DeepSpeedZero3,

    /// <summary>PyTorch FSDP (full shard), through accelerate.</summary>
    Fsdp,
}

/// <summary>The command-line spellings of engines and launchers.</summary>
public static class ExportNames
{
    /// <summary>axolotl | llamafactory.</summary>
    public static string Of(ExportEngine engine) => engine == ExportEngine.Axolotl ? "axolotl" : "llamafactory";

    /// <summary>deepspeed-zero2 | deepspeed-zero3 | fsdp.</summary>
    public static string Of(ExportLauncher launcher) => launcher switch
    {
        ExportLauncher.DeepSpeedZero2 => "deepspeed-zero2",
        ExportLauncher.DeepSpeedZero3 => "deepspeed-zero3",
        _ => "fsdp",
    };

    /// <summary>The engine for a spelling, or null.</summary>
    public static ExportEngine? Engine(string name) => name.ToLowerInvariant() switch
    {
        "axolotl" => ExportEngine.Axolotl,
        "llamafactory" or "llama-factory" => ExportEngine.LlamaFactory,
        _ => null,
    };

    /// <summary>The launcher for a spelling, or null.</summary>
    public static ExportLauncher? Launcher(string name) => name.ToLowerInvariant() switch
    {
        "deepspeed-zero2" => ExportLauncher.DeepSpeedZero2,
        "deepspeed-zero3" => ExportLauncher.DeepSpeedZero3,
        "fsdp" => ExportLauncher.Fsdp,
        _ => null,
    };

    /// <summary>The engine as people write it, with the version the export targets.</summary>
    public static string Display(ExportEngine engine) => engine == ExportEngine.Axolotl
        ? $"axolotl {AxolotlExporter.TargetVersion}"
        : $"LLaMA-Factory {LlamaFactoryExporter.TargetVersion}";
}
