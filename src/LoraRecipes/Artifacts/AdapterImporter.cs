using System.Globalization;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Artifacts;

/// <summary>What an import wrote.</summary>
/// <param name="OutputDirectory">The recipe's artifact folder.</param>
/// <param name="Modules">Adapted modules (LoRA, DoRA or IA3).</param>
/// <param name="Fingerprint">The plan fingerprint written into the manifest.</param>
public sealed record ImportResult(string OutputDirectory, int Modules, string Fingerprint);

/// <summary>A PEFT adapter that does not match the recipe it is imported for; the message lists every mismatch.</summary>
public sealed class AdapterImportException(string folder, IReadOnlyList<string> mismatches)
    : Exception($"{folder}: error LORA131: the adapter does not match the recipe; nothing was written."
        + string.Concat(mismatches.Select(m => Environment.NewLine + "  " + m)))
{
    /// <summary>Each mismatch, one sentence.</summary>
    public IReadOnlyList<string> Mismatches { get; } = mismatches;
}

/// <summary>
/// <c>dotnet lora import-adapter</c>: an adapter trained by another trainer (axolotl, LLaMA-Factory, PEFT) becomes the
/// recipe's artifact. The adapter must be what the recipe describes: the recipe's method (LoRA, DoRA — LoRA with
/// <c>use_dora</c> and <c>lora_magnitude_vector</c> — or IA3; no per-module ranks: <see cref="PeftAdapterConfig.Load"/>),
/// its task, for LoRA its r, alpha and rsLoRA, for IA3 the same feed-forward modules, exactly the modules the
/// recipe's targets select in the base model, and tensors under PEFT's names with the base model's shapes
/// (<see cref="AdapterLoader.Apply(TorchSharp.torch.nn.Module, string, bool)"/>). Unknown keys in its adapter_config.json are ignored, as PEFT adds some every
/// release. The artifact's manifest carries the recipe's plan fingerprint, so builds see it up to date.
/// </summary>
public static class AdapterImporter
{
    /// <summary>Checks <paramref name="peftFolder"/> against <paramref name="plan"/> and writes the artifact folder.</summary>
    /// <exception cref="AdapterImportException">The adapter does not match the recipe.</exception>
    /// <exception cref="AdapterLoadException">The adapter folder is not a loadable PEFT LoRA adapter for this base model.</exception>
    public static ImportResult Import(TrainingPlan plan, string peftFolder, string trainedBy)
    {
        var config = PeftAdapterConfig.Load(Path.Combine(peftFolder, ArtifactFiles.AdapterConfig));
        var recipe = plan.Recipe;
        var mismatches = new List<string>();
        if (recipe.Task != TaskType.CausalLm)
            mismatches.Add("task: only causal-lm adapters are imported (sequence-classification heads are trained here).");
        if (config.TaskType != "CAUSAL_LM") mismatches.Add($"task_type is {config.TaskType}; the recipe trains a causal LM (CAUSAL_LM).");
        MethodMismatches(recipe, config, mismatches);
        if (BaseModelMismatch(plan, config.BaseModelNameOrPath) is { } baseModel) mismatches.Add(baseModel);
        if (mismatches.Count > 0) throw new AdapterImportException(peftFolder, mismatches);

        // Tensor names and shapes against the base model (AdapterLoader throws naming the tensor), then the modules
        // (and, for IA3, which of them scale their input) against what the recipe's method injects in the same model.
        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        Dictionary<string, bool?> adapted;
        long trainable;
        using (var model = ModelLoader.Load(folder))
        {
            var wrapped = AdapterLoader.Apply(model.Module, config, peftFolder);
            adapted = wrapped.ToDictionary(p => p.Key, p => FeedforwardOf(p.Value), StringComparer.Ordinal);
            trainable = wrapped.Values.Sum(l => l.TrainableParameterCount);
        }
        Dictionary<string, bool?> expected;
        using (var fresh = ModelLoader.Load(folder))
            expected = AdapterMethods.Inject(fresh.Module, AdapterMethods.For(recipe, fresh.Config.ModelType)).ToDictionary(p => p.Key, p => FeedforwardOf(p.Value), StringComparer.Ordinal);
        string targetsKey = recipe.Method == AdapterMethod.Ia3 ? "ia3.target_modules" : "lora.target_modules";
        var missing = expected.Keys.Except(adapted.Keys).Order(StringComparer.Ordinal).ToList();
        var extra = adapted.Keys.Except(expected.Keys).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0) mismatches.Add($"{targetsKey} selects {expected.Count} modules; the adapter lacks {Few(missing)}.");
        if (extra.Count > 0) mismatches.Add($"the adapter adapts {Few(extra)}, which {targetsKey} does not select.");
        var scaledDifferently = expected.Keys.Intersect(adapted.Keys).Where(m => expected[m] != adapted[m]).Order(StringComparer.Ordinal).ToList();
        if (scaledDifferently.Count > 0)
            mismatches.Add($"feedforward_modules differs from the recipe's ia3.feedforward_modules at {Few(scaledDifferently)} (input- vs output-scaled).");
        if (mismatches.Count > 0) throw new AdapterImportException(peftFolder, mismatches);

        ArtifactWriter.WriteImported(plan, peftFolder, config, trainedBy, adapted.Count, trainable);
        return new ImportResult(plan.OutputDirectory, adapted.Count, plan.Fingerprint);
    }

    /// <summary>
    /// The adapter's method against the recipe's: IA3 for <c>method: ia3</c>; LoRA for <c>method: lora</c> with the same
    /// DoRA flag, r, alpha and rsLoRA. PiSSA/OLoRA recipes and bottleneck adapters are trained here only (their
    /// adapters depend on a residual base, or PEFT has no such type).
    /// </summary>
    private static void MethodMismatches(Recipe recipe, PeftAdapterConfig config, List<string> mismatches)
    {
        string method = YamlNames.ToYaml(recipe.Method, ["lora", "ia3", "bottleneck_adapter", "freeze", "prompt_tuning", "p_tuning", "prefix_tuning"]);
        switch (recipe.Method)
        {
            case AdapterMethod.Ia3:
                if (!config.IsIa3) mismatches.Add($"peft_type is {config.PeftType}; the recipe's method is ia3 (peft_type IA3).");
                return;
            case AdapterMethod.Lora:
                if (recipe.Lora.Init is LoraInit.Pissa or LoraInit.Olora)
                    mismatches.Add($"lora.init is {YamlNames.ToYaml(recipe.Lora.Init, ["default", "gaussian", "pissa", "olora"])}: such an adapter is trained against a residual base; train it here, or use init: default.");
                if (config.PeftType != "LORA")
                {
                    mismatches.Add($"peft_type is {config.PeftType}; the recipe's method is lora (peft_type LORA).");
                    return;
                }
                break;
            case AdapterMethod.PromptTuning or AdapterMethod.PTuning or AdapterMethod.PrefixTuning:
                mismatches.Add($"method: {method} adapters are not imported (PEFT's {config.PeftType} loads in Python unchanged); import LORA or IA3 adapters, or train this recipe here.");
                return;
            default:
                mismatches.Add($"method: {method} adapters are only trained here (PEFT has no such type); import LORA or IA3 adapters.");
                return;
        }
        if (config.UseDora != recipe.Lora.UseDora) mismatches.Add($"use_dora is {Lower(config.UseDora)}; the recipe's lora.use_dora is {Lower(recipe.Lora.UseDora)}.");
        if (config.R != recipe.Lora.R) mismatches.Add($"r is {config.R}; the recipe's lora.r is {recipe.Lora.R}.");
        if (config.LoraAlpha != recipe.Lora.Alpha)
            mismatches.Add(FormattableString.Invariant($"lora_alpha is {config.LoraAlpha}; the recipe's lora.alpha is {recipe.Lora.Alpha}."));
        if (config.UseRslora != recipe.Lora.UseRslora) mismatches.Add($"use_rslora is {Lower(config.UseRslora)}; the recipe's lora.use_rslora is {Lower(recipe.Lora.UseRslora)}.");
    }

    /// <summary>IA3: whether the layer scales its input (a feed-forward module); null for other methods.</summary>
    private static bool? FeedforwardOf(IAdapterModule layer) => layer is Ia3Linear ia3 ? ia3.IsFeedforward : null;

    /// <summary>
    /// A foreign trainer writes the path it loaded the base from; accept the recipe's spelling, the resolved folder,
    /// the export's <c>./base_model</c> (builtin models), or any path ending in the same folder name as the hub id.
    /// </summary>
    private static string? BaseModelMismatch(TrainingPlan plan, string source)
    {
        if (string.IsNullOrWhiteSpace(source)) return null;
        string normalized = source.Replace('\\', '/').TrimEnd('/');
        var accepted = new List<string> { plan.Recipe.BaseModel, plan.BaseModel.ToString(), plan.BaseModel.Name };
        if (plan.BaseModel.Path is { } path) accepted.Add(path.Replace('\\', '/').TrimEnd('/'));
        if (plan.BaseModel.Kind == BaseModelKind.Builtin) accepted.AddRange(["./base_model", "base_model"]);
        string last = normalized[(normalized.LastIndexOf('/') + 1)..];
        string recipeLast = plan.BaseModel.Name.Replace('\\', '/').TrimEnd('/') is var n ? n[(n.LastIndexOf('/') + 1)..] : "";
        bool sameName = plan.BaseModel.Kind != BaseModelKind.Builtin && string.Equals(last, recipeLast, StringComparison.OrdinalIgnoreCase);
        return accepted.Contains(normalized, StringComparer.Ordinal) || sameName || normalized.EndsWith("/base_model", StringComparison.Ordinal) && plan.BaseModel.Kind == BaseModelKind.Builtin
            ? null
            : $"base_model_name_or_path is '{source}'; the recipe's base_model is '{plan.Recipe.BaseModel}' (was the adapter trained on another model?).";
    }

    private static string Few(IReadOnlyList<string> paths) =>
        string.Join(", ", paths.Take(3)) + (paths.Count > 3 ? string.Create(CultureInfo.InvariantCulture, $" and {paths.Count - 3} more") : "");

    private static string Lower(bool value) => value ? "true" : "false";
}
