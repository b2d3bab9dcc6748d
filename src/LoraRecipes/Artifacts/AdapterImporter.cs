using System.Globalization;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Artifacts;

/// <summary>What an import wrote.</summary>
/// <param name="OutputDirectory">The recipe's artifact folder.</param>
/// <param name="Modules">LoRA-adapted modules.</param>
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
/// recipe's artifact. The adapter must be what the recipe describes: LoRA (not DoRA, no per-module ranks:
/// <see cref="PeftAdapterConfig.Load"/>), the recipe's task, r, alpha, rsLoRA, exactly the modules the recipe's
/// targets select in the base model, and A/B tensors under PEFT's names with the base model's shapes
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
        if (config.R != recipe.Lora.R) mismatches.Add($"r is {config.R}; the recipe's lora.r is {recipe.Lora.R}.");
        if (config.LoraAlpha != recipe.Lora.Alpha)
            mismatches.Add(FormattableString.Invariant($"lora_alpha is {config.LoraAlpha}; the recipe's lora.alpha is {recipe.Lora.Alpha}."));
        if (config.UseRslora != recipe.Lora.UseRslora) mismatches.Add($"use_rslora is {Lower(config.UseRslora)}; the recipe's lora.use_rslora is {Lower(recipe.Lora.UseRslora)}.");
        if (BaseModelMismatch(plan, config.BaseModelNameOrPath) is { } baseModel) mismatches.Add(baseModel);
        if (mismatches.Count > 0) throw new AdapterImportException(peftFolder, mismatches);

        // Tensor names and shapes against the base model (AdapterLoader throws naming the tensor), then the modules
        // against the recipe's targets in the same model.
        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        IReadOnlyList<string> adapted;
        long trainable;
        using (var model = ModelLoader.Load(folder))
        {
            var wrapped = AdapterLoader.Apply(model.Module, config, peftFolder);
            adapted = wrapped.Keys.Order(StringComparer.Ordinal).ToList();
            trainable = wrapped.Values.Sum(l => l.TrainableParameterCount);
        }
        IReadOnlyList<string> expected;
        using (var fresh = ModelLoader.Load(folder))
            expected = LoraInjector.Inject(fresh.Module, AdapterMethods.For(recipe, fresh.Config.ModelType).Lora).Keys.Order(StringComparer.Ordinal).ToList();
        var missing = expected.Except(adapted).ToList();
        var extra = adapted.Except(expected).ToList();
        if (missing.Count > 0) mismatches.Add($"lora.target_modules selects {expected.Count} modules; the adapter lacks {Few(missing)}.");
        if (extra.Count > 0) mismatches.Add($"the adapter adapts {Few(extra)}, which lora.target_modules does not select.");
        if (mismatches.Count > 0) throw new AdapterImportException(peftFolder, mismatches);

        ArtifactWriter.WriteImported(plan, peftFolder, config, trainedBy, adapted.Count, trainable);
        return new ImportResult(plan.OutputDirectory, adapted.Count, plan.Fingerprint);
    }

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
