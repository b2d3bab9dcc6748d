namespace LoraRecipes.Artifacts;

/// <summary>
/// PEFT's on-disk tensor names. In memory PEFT names a weight <c>…q_proj.lora_A.default.weight</c>; on save
/// it strips the adapter name and prefixes the wrapper's path: <c>base_model.model.&lt;module path&gt;.lora_A.weight</c>.
/// </summary>
public static class AdapterKeys
{
    /// <summary>The prefix PEFT's <c>PeftModel</c> wrapping adds to every module path.</summary>
    public const string Prefix = "base_model.model.";

    /// <summary>The saved name of A (<paramref name="matrix"/> = "lora_A") or B ("lora_B") of a module.</summary>
    public static string For(string modulePath, string matrix) => $"{Prefix}{modulePath}.{matrix}.weight";

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
