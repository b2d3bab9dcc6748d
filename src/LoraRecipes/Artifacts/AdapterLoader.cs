using System.Text.RegularExpressions;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>Applies a saved PEFT adapter (LORA with or without DoRA, or IA3; ours or one PEFT wrote; or our BOTTLENECK_ADAPTER) to a loaded base model.</summary>
public static class AdapterLoader
{
    /// <summary>
    /// Wraps exactly the modules the adapter has weights for, copies A and B (shapes checked against the
    /// base model), and returns the wrapped modules. Dropout is off: this is for inference and evaluation.
    /// <c>modules_to_save</c> tensors (a classification head, saved as <c>base_model.model.classifier.weight</c>)
    /// are copied into the model's own modules; for a SEQ_CLS adapter load the base with
    /// <see cref="AdapterFolder.Load"/>, which sizes the head from the adapter's labels.
    /// </summary>
    public static IReadOnlyDictionary<string, IAdapterLayer> Apply(nn.Module model, string adapterFolder, bool merge = false) =>
        Apply(model, PeftAdapterConfig.Load(Path.Combine(adapterFolder, ArtifactFiles.AdapterConfig)), adapterFolder, merge);

    /// <summary>As <see cref="Apply(nn.Module, string, bool)"/>, with the folder's config already read (<see cref="AdapterFolder"/>).</summary>
    public static IReadOnlyDictionary<string, IAdapterLayer> Apply(nn.Module model, PeftAdapterConfig config, string adapterFolder, bool merge = false)
    {
        // fan_in_fan_out only says the base weight is stored [in, out] (GPT-2 Conv1D); A [r, in] and B [out, r] are
        // the same either way, and the Conv1D families here hold that weight transposed as nn.Linear. PEFT itself
        // corrects a wrong flag with a warning, so a mismatch is not an error.
        if (config.IsPromptLearning) return PromptAdapterLoader.Apply(model, config, adapterFolder, merge);
        string weightsPath = Path.Combine(adapterFolder, ArtifactFiles.AdapterWeights);
        if (!File.Exists(weightsPath))
            throw new AdapterLoadException(weightsPath, "adapter_model.safetensors not found (adapter_model.bin is a pickle and is refused: convert it to safetensors).");

        // method: freeze — whole base tensors, substituted in place; the loaded model is the merged one.
        if (config.IsFreeze)
        {
            FreezeDelta.Apply(model, weightsPath);
            return new SortedDictionary<string, IAdapterLayer>(StringComparer.Ordinal);
        }

        using var file = SafetensorsFile.Open(weightsPath);
        var modules = new SortedSet<string>(StringComparer.Ordinal);
        var saved = new List<(string Key, string Parameter)>();
        var toSave = SavedModules(config);
        foreach (var info in file.Tensors)
        {
            if (AdapterKeys.ParseTensor(info.Name) is { } parsed && KindOf(parsed.Tensor) == KindOf(config))
            {
                modules.Add(parsed.ModulePath);
                continue;
            }
            saved.Add((info.Name, SavedParameter(info.Name, toSave)
                ?? throw new AdapterLoadException(weightsPath, $"tensor '{info.Name}' is not a LoRA weight under PEFT's naming (base_model.model.<module>.lora_A.weight)" +
                   (toSave.Count > 0 ? $" nor a parameter of modules_to_save [{string.Join(", ", toSave)}]." : "."))));
        }
        // No LoRA tensor is only right for a head-only classifier (target_modules: [], the head in modules_to_save).
        bool headOnly = saved.Count > 0 && config.TargetModules.Count == 0 && config.TargetModulesRegex is null;
        if (modules.Count == 0 && !headOnly)
            throw new AdapterLoadException(weightsPath, "the adapter holds no LoRA tensors.");
        if (modules.Count == 0) return CopySaved(model, file, weightsPath, saved, new SortedDictionary<string, IAdapterLayer>(StringComparer.Ordinal));

        string exact = "re:" + string.Join("|", modules.Select(Regex.Escape));
        IReadOnlyDictionary<string, IAdapterLayer> wrapped;
        try
        {
            if (config.IsBottleneck)
            {
                var bottleneck = new BottleneckSettings([exact], config.R, 1, YamlNames.Parse<BottleneckActivation>(config.NonLinearity));
                wrapped = BottleneckInjector.Inject(model, bottleneck).ToDictionary(p => p.Key, p => (IAdapterLayer)p.Value, StringComparer.Ordinal);
            }
            else if (config.IsIa3)
            {
                // Which targets scale their input: PEFT's feedforward_modules (a name list or one regex over full paths).
                IReadOnlyList<string> feedforward = config.FeedforwardModulesRegex is { } ff ? ["re:" + ff] : config.FeedforwardModules;
                TargetMatcher ffMatcher;
                try { ffMatcher = new TargetMatcher(feedforward); }
                catch (ArgumentException ex) { throw new AdapterLoadException(Path.Combine(adapterFolder, ArtifactFiles.AdapterConfig), "feedforward_modules is not a valid regular expression: " + ex.Message); }
                var ia3 = new Ia3Settings([exact], feedforward.Count == 0 ? [] : ["re:(" + string.Join("|", modules.Where(ffMatcher.Matches).Select(Regex.Escape)) + ")"]);
                if (ia3.FeedforwardModules is ["re:()"]) ia3 = ia3 with { FeedforwardModules = [] };
                wrapped = Ia3Injector.Inject(model, ia3).ToDictionary(p => p.Key, p => (IAdapterLayer)p.Value, StringComparer.Ordinal);
            }
            else
            {
                var settings = new LoraSettings(config.R, config.LoraAlpha, 0.0, [exact], config.UseRslora, LoraInit.Default, UseDora: config.UseDora);
                wrapped = LoraInjector.Inject(model, settings).ToDictionary(p => p.Key, p => (IAdapterLayer)p.Value, StringComparer.Ordinal);
            }
        }
        catch (LoraTargetException ex)
        {
            throw new AdapterLoadException(adapterFolder, "the adapter's modules do not exist in this base model: " + ex.Message);
        }
        var missing = modules.Except(wrapped.Keys).ToList();
        if (missing.Count > 0)
            throw new AdapterLoadException(adapterFolder, $"the base model has no linear layer {string.Join(", ", missing.Take(5))}; was the adapter trained on another model?");

        using var guard = no_grad();
        foreach (var (path, layer) in wrapped)
        {
            foreach (var (name, target) in layer.LoadTargets())
            {
                // PEFT before 0.12 saved DoRA's magnitude without the ".weight" suffix.
                string key = AdapterKeys.ForTensor(path, name);
                if (name == "lora_magnitude_vector.weight" && !file.Contains(key) && file.Contains(key[..^".weight".Length])) key = key[..^".weight".Length];
                Copy(file, weightsPath, key, target);
            }
            if (merge)
            {
                if (config.IsBottleneck) throw new AdapterLoadException(adapterFolder, BottleneckLinear.NotMergeable);
                layer.Merge();
            }
        }
        return CopySaved(model, file, weightsPath, saved, wrapped);
    }

    /// <summary>Which method a saved tensor name belongs to: 0 LoRA/DoRA, 1 IA3, 2 bottleneck adapter.</summary>
    private static int KindOf(string tensor) => tensor == "ia3_l" ? 1 : tensor.StartsWith(BottleneckLinear.ParameterPrefix, StringComparison.Ordinal) ? 2 : 0;

    private static int KindOf(PeftAdapterConfig config) => config.IsIa3 ? 1 : config.IsBottleneck ? 2 : 0;

    /// <summary>Copies the modules_to_save tensors into the model's own parameters; returns <paramref name="wrapped"/>.</summary>
    private static IReadOnlyDictionary<string, IAdapterLayer> CopySaved(nn.Module model, SafetensorsFile file, string weightsPath,
        IReadOnlyList<(string Key, string Parameter)> saved, IReadOnlyDictionary<string, IAdapterLayer> wrapped)
    {
        using var guard = no_grad();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter, StringComparer.Ordinal);
        foreach (var (key, parameter) in saved)
        {
            if (!parameters.TryGetValue(parameter, out var target))
                throw new AdapterLoadException(weightsPath, $"tensor '{key}' is for '{parameter}', which this base model does not have (load a SEQ_CLS adapter onto the *ForSequenceClassification model).");
            Copy(file, weightsPath, key, target);
        }
        return wrapped;
    }

    /// <summary>The adapter's modules_to_save; PEFT's SEQ_CLS models add <c>classifier</c> and <c>score</c> on their own.</summary>
    private static IReadOnlyList<string> SavedModules(PeftAdapterConfig config)
    {
        var modules = (config.ModulesToSave ?? Array.Empty<string>()).ToList();
        if (config.IsSequenceClassification) modules.AddRange(["classifier", "score"]);
        return modules.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// <c>base_model.model.classifier.weight</c> → <c>classifier.weight</c> when <c>classifier</c> is in
    /// modules_to_save (also PEFT's in-memory form <c>classifier.modules_to_save.default.weight</c>); else null.
    /// </summary>
    private static string? SavedParameter(string key, IReadOnlyList<string> modulesToSave)
    {
        if (!key.StartsWith(AdapterKeys.Prefix, StringComparison.Ordinal)) return null;
        string rest = key[AdapterKeys.Prefix.Length..].Replace(".modules_to_save.default.", ".", StringComparison.Ordinal);
        return modulesToSave.Any(m => rest.StartsWith(m + ".", StringComparison.Ordinal) || rest.Contains("." + m + ".", StringComparison.Ordinal)) ? rest : null;
    }

    private static void Copy(SafetensorsFile file, string weightsPath, string key, Tensor target)
    {
        string name = file.Contains(key) ? key : key.EndsWith(".weight", StringComparison.Ordinal) ? key[..^".weight".Length] + ".default.weight" : key + ".default";
        if (!file.Contains(name)) throw new AdapterLoadException(weightsPath, $"missing tensor '{key}'.");
        using var stored = file.ReadTensor(name);
        if (!stored.shape.SequenceEqual(target.shape))
            throw new AdapterLoadException(weightsPath, $"tensor '{key}' has shape [{string.Join(", ", stored.shape)}] but this base model needs [{string.Join(", ", target.shape)}] (A is [r, in], B is [out, r]).");
        target.copy_(stored);
    }
}
