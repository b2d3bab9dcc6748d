namespace LoraRecipes.Artifacts;

/// <summary>
/// PEFT's on-disk tensor names. In memory PEFT names a weight <c>…q_proj.lora_A.default.weight</c>; on save
/// it strips the adapter name and prefixes the wrapper's path: <c>base_model.model.&lt;module path&gt;.lora_A.weight</c>.
/// </summary>
public static class AdapterKeys
{
    /// <summary>The prefix PEFT's <c>PeftModel</c> wrapping adds to every module path.</summary>
    public const string Prefix = "base_model.model.";

    /// <summary>
    /// The prefix of a prompt-learning adapter's <c>modules_to_save</c> keys: PEFT's PeftModel keeps the transformers
    /// model itself as <c>base_model</c> there (no tuner in between), so a head is saved as <c>base_model.classifier.weight</c>.
    /// </summary>
    public const string PromptLearningPrefix = "base_model.";

    /// <summary>The saved name of A (<paramref name="matrix"/> = "lora_A") or B ("lora_B") of a module.</summary>
    public static string For(string modulePath, string matrix) => $"{Prefix}{modulePath}.{matrix}.weight";

    /// <summary>The saved name of a layer tensor named <paramref name="tensor"/> (<c>lora_A.weight</c>, <c>lora_magnitude_vector.weight</c>, <c>ia3_l</c>).</summary>
    public static string ForTensor(string modulePath, string tensor) => $"{Prefix}{modulePath}.{tensor}";

    /// <summary>
    /// Splits a saved adapter name into (module path, tensor name as <see cref="Lora.IAdapterModule.SavedTensors"/> names it):
    /// <c>lora_A.weight</c>, <c>lora_B.weight</c>, <c>lora_magnitude_vector.weight</c> (also PEFT's older bare
    /// <c>lora_magnitude_vector</c>), <c>ia3_l</c>, a bottleneck adapter's <c>adapter_down|adapter_up.weight|bias</c>; PEFT's in-memory <c>.default</c> infix is accepted. Null otherwise.
    /// </summary>
    public static (string ModulePath, string Tensor)? ParseTensor(string key)
    {
        if (Parse(key) is { } lora) return (lora.ModulePath, lora.Matrix + ".weight");
        if (!key.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        string rest = key[Prefix.Length..];
        foreach (var (suffix, tensor) in new[]
        {
            (".lora_magnitude_vector.weight", "lora_magnitude_vector.weight"), (".lora_magnitude_vector.default.weight", "lora_magnitude_vector.weight"),
            (".lora_magnitude_vector", "lora_magnitude_vector.weight"), (".ia3_l", "ia3_l"), (".ia3_l.default", "ia3_l"),
            (".adapter_down.weight", "adapter_down.weight"), (".adapter_down.bias", "adapter_down.bias"),
            (".adapter_up.weight", "adapter_up.weight"), (".adapter_up.bias", "adapter_up.bias"),
        })
        {
            if (rest.EndsWith(suffix, StringComparison.Ordinal)) return (rest[..^suffix.Length], tensor);
        }
        return null;
    }

    /// <summary>Splits a saved name into (module path, "lora_A"|"lora_B"); null for names that are not LoRA weights.</summary>
    public static (string ModulePath, string Matrix)? Parse(string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        string rest = key[Prefix.Length..];
        foreach (string matrix in new[] { "lora_A", "lora_B" })
        {
            foreach (string suffix in new[] { $".{matrix}.weight", $".{matrix}.default.weight" })
            {
                if (rest.EndsWith(suffix, StringComparison.Ordinal)) return (rest[..^suffix.Length], matrix);
            }
        }
        return null;
    }
}
