using System.Runtime.InteropServices;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Native;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Events;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>
/// Writes the artifact folder: PEFT adapter, manifest, metrics and resolved recipe. Every file is first
/// written into a staging folder and then renamed into place, manifest last, so a killed run leaves
/// either the previous artifact or the new one, never a torn file.
/// The file names and the manifest's shape are the contract in <see cref="ArtifactFiles"/> and <see cref="LoraManifest"/>.
/// </summary>
public static partial class ArtifactWriter
{
    public static void Write<TLayer>(TrainingPlan plan, IReadOnlyDictionary<string, TLayer> adapters, LoadedModel model,
        MetricsLog log, TrainingSummary summary, RunEnvironment environment, ManifestStopping? stopping = null) where TLayer : IAdapterModule
    {
        // GPT-2's Conv1D targets: PEFT needs fan_in_fan_out to merge; A and B are saved alike either way.
        bool fanInFanOut = model.Module is ICheckpointLayout { FanInFanOut: true };
        // Sequence classification: the head is PEFT's modules_to_save, saved beside A and B.
        var modulesToSave = model.Classifier is { } classifier ? SavedModules.For(classifier, plan.Recipe.Lora) : null;
        // A prompt-learning PeftModel holds the transformers model itself as base_model: its head is saved as base_model.<path>.
        string headPrefix = PromptLearningSettings.IsPromptMethod(plan.Recipe.Method) ? AdapterKeys.PromptLearningPrefix : AdapterKeys.Prefix;
        Commit(plan.OutputDirectory, ArtifactFiles.All, staging =>
        {
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.AdapterConfig), AdapterConfig(plan, adapters, fanInFanOut, modulesToSave, model.Config).ToJson());
            using (var scope = NewDisposeScope())
                WriteWeights(Path.Combine(staging, ArtifactFiles.AdapterWeights), adapters,
                    modulesToSave is null ? null : SequenceClassification.HeadTensors(model.Module, modulesToSave, headPrefix));
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.ResolvedRecipe), PlanWriter.ToYaml(plan));
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.Metrics), log.ToJsonLines());
            LossPlot.Write(Path.Combine(staging, ArtifactFiles.LossPlot), log);
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.Manifest), (Manifest(plan, adapters, model, summary, environment) with { Stopping = stopping }).ToJson());
        });
    }

    /// <summary>
    /// Writes <paramref name="files"/> into a staging folder inside <paramref name="output"/> (<paramref name="fill"/>),
    /// flushes them, then renames each into place, manifest last by the caller's order.
    /// </summary>
    private static void Commit(string output, IReadOnlyList<string> files, Action<string> fill)
    {
        Directory.CreateDirectory(output);
        // A run killed while writing leaves its staging folder behind; it never holds anything the artifact needs.
        foreach (string stale in Directory.GetDirectories(output, ".staging-*"))
            try { Directory.Delete(stale, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        string staging = Path.Combine(output, $".staging-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            fill(staging);
            // On disk before any is renamed into place, and the renames made durable after: a power loss leaves the
            // previous artifact or this one, not a renamed-but-empty file.
            foreach (string name in files) AtomicFile.FlushFile(Path.Combine(staging, name));
            foreach (string name in files)
                File.Move(Path.Combine(staging, name), Path.Combine(output, name), overwrite: true);
            _ = AtomicFile.FlushDirectory(output);
        }
        finally
        {
            // Best effort: a cleanup failure must not hide why the write failed (e.g. a full disk).
            try { Directory.Delete(staging, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>The PEFT config: target_modules as names, or as one exact regex when the recipe used regexes.</summary>
    /// <remarks>Sequence classification: <c>task_type: SEQ_CLS</c> and the head in <c>modules_to_save</c>.</remarks>
    /// <remarks>Prompt tuning and p-tuning: PEFT's PromptLearningConfig keys, sized from <paramref name="modelConfig"/>.</remarks>
    public static PeftAdapterConfig AdapterConfig<TLayer>(TrainingPlan plan, IReadOnlyDictionary<string, TLayer> adapters, bool fanInFanOut = false,
        IReadOnlyList<string>? modulesToSave = null, ModelConfig? modelConfig = null) where TLayer : IAdapterModule
    {
        if (PromptLearningSettings.IsPromptMethod(plan.Recipe.Method))
            return PeftAdapterConfig.ForPromptLearning(plan, modelConfig ?? throw new ArgumentNullException(nameof(modelConfig), "a prompt-learning config is sized from the model"),
                modulesToSave);
        var lora = plan.Recipe.Lora;
        bool byName = lora.TargetModules.All(t => !t.StartsWith("re:", StringComparison.Ordinal));
        var names = adapters.Keys.Select(p => p[(p.LastIndexOf('.') + 1)..]).Distinct().Order(StringComparer.Ordinal).ToList();
        if (plan.Recipe.Method == AdapterMethod.Ia3) return Ia3Config(plan, adapters, fanInFanOut, modulesToSave);
        if (plan.Recipe.Method == AdapterMethod.BottleneckAdapter) return BottleneckConfig(plan, adapters, modulesToSave);
        // PiSSA/OLoRA are saved converted (LoraLinear.SavedTensors): a plain LoRA of the unmodified base, rank 2r, α doubled
        // (α·√2 with rsLoRA) so the scale is unchanged, init_lora_weights true — PEFT's path_initial_model_for_weight_conversion.
        bool converted = lora.Init is LoraInit.Pissa or LoraInit.Olora;
        return new PeftAdapterConfig
        {
            UseDora = lora.UseDora,
            BaseModelNameOrPath = plan.BaseModel.Kind == BaseModelKind.Folder ? plan.BaseModel.Path! : plan.BaseModel.ToString(),
            R = converted ? 2 * lora.R : lora.R,
            LoraAlpha = converted ? (lora.UseRslora ? lora.Alpha * Math.Sqrt(2) : 2 * lora.Alpha) : lora.Alpha,
            LoraDropout = lora.Dropout,
            TargetModules = byName ? names : Array.Empty<string>(),
            TargetModulesRegex = byName ? null : "(" + string.Join("|", adapters.Keys.Select(System.Text.RegularExpressions.Regex.Escape)) + ")",
            UseRslora = lora.UseRslora,
            InitLoraWeights = lora.Init == LoraInit.Gaussian ? "gaussian" : "true",
            Bias = "none",
            FanInFanOut = fanInFanOut,
            TaskType = plan.Recipe.Task == TaskType.SequenceClassification ? PeftAdapterConfig.SequenceClassificationTask : "CAUSAL_LM",
            ModulesToSave = modulesToSave is { Count: > 0 } ? modulesToSave : null,
        };
    }

    /// <summary>IA3's PEFT config: peft_type IA3, the matched target names and the feed-forward ones among them.</summary>
    private static PeftAdapterConfig Ia3Config<TLayer>(TrainingPlan plan, IReadOnlyDictionary<string, TLayer> adapters, bool fanInFanOut,
        IReadOnlyList<string>? modulesToSave) where TLayer : IAdapterModule
    {
        // Exact paths as one regex: PEFT fullmatches a string target_modules/feedforward_modules over module paths.
        static string Exact(IEnumerable<string> paths) => "(" + string.Join("|", paths.Select(System.Text.RegularExpressions.Regex.Escape)) + ")";
        var feedforward = adapters.Where(p => p.Value is Ia3Linear { IsFeedforward: true }).Select(p => p.Key).ToList();
        return new PeftAdapterConfig
        {
            PeftType = PeftAdapterConfig.Ia3Type,
            BaseModelNameOrPath = plan.BaseModel.Kind == BaseModelKind.Folder ? plan.BaseModel.Path! : plan.BaseModel.ToString(),
            R = 0,
            LoraAlpha = 0,
            TargetModulesRegex = Exact(adapters.Keys),
            FeedforwardModulesRegex = Exact(feedforward),
            FanInFanOut = fanInFanOut,
            TaskType = plan.Recipe.Task == TaskType.SequenceClassification ? PeftAdapterConfig.SequenceClassificationTask : "CAUSAL_LM",
            ModulesToSave = modulesToSave is { Count: > 0 } ? modulesToSave : null,
        };
    }

    /// <summary>Our bottleneck adapter config (<see cref="PeftAdapterConfig.BottleneckType"/>): the width as bottleneck_size, the wrapped paths as one exact regex.</summary>
    private static PeftAdapterConfig BottleneckConfig<TLayer>(TrainingPlan plan, IReadOnlyDictionary<string, TLayer> adapters,
        IReadOnlyList<string>? modulesToSave) where TLayer : IAdapterModule
    {
        var options = plan.Recipe.BottleneckAdapter;
        var widths = adapters.Values.OfType<BottleneckLinear>().Select(a => a.BottleneckSize).Distinct().ToList();
        if (widths.Count != 1) throw new InvalidOperationException($"bottleneck adapters of {widths.Count} widths; the config holds one.");
        return new PeftAdapterConfig
        {
            PeftType = PeftAdapterConfig.BottleneckType,
            BaseModelNameOrPath = plan.BaseModel.Kind == BaseModelKind.Folder ? plan.BaseModel.Path! : plan.BaseModel.ToString(),
            R = widths[0],
            LoraAlpha = 0,
            LoraDropout = options.Dropout,
            NonLinearity = YamlNames.ToYaml(options.NonLinearity, ["relu", "gelu", "swish", "tanh"]),
            Placement = YamlNames.ToYaml(options.Placement, ["ffn", "attention", "both"]),
            TargetModulesRegex = "(" + string.Join("|", adapters.Keys.Select(System.Text.RegularExpressions.Regex.Escape)) + ")",
            TaskType = plan.Recipe.Task == TaskType.SequenceClassification ? PeftAdapterConfig.SequenceClassificationTask : "CAUSAL_LM",
            ModulesToSave = modulesToSave is { Count: > 0 } ? modulesToSave : null,
        };
    }

    /// <summary>Every wrapped module's tensors under PEFT's saved names (<see cref="IAdapterModule.SavedTensors"/>: A (r, in) and
    /// B (out, r), DoRA's magnitude, IA3's vector), fp32, contiguous; plus <paramref name="extra"/> (the <c>modules_to_save</c>
    /// tensors, already under their saved names).</summary>
    public static void WriteWeights<TLayer>(string path, IReadOnlyDictionary<string, TLayer> adapters, IReadOnlyDictionary<string, Tensor>? extra = null)
        where TLayer : IAdapterModule
    {
        using var scope = NewDisposeScope();
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in extra ?? new Dictionary<string, Tensor>()) tensors[name] = t;
        foreach (var (modulePath, layer) in adapters)
        {
            // A layer's tensors follow its module path; a prompt-learning module names whole keys (prompt_embeddings).
            foreach (var (name, value) in layer.SavedTensors()) tensors[layer is IAdapterLayer ? AdapterKeys.ForTensor(modulePath, name) : name] = value;
        }
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>
    /// The manifest fields every artifact has, however its adapter was trained: format, name, the plan's fingerprint
    /// (what the build compares), time, tool versions, provenance (source recipe and overrides), seed and the hashed inputs.
    /// </summary>
    private static LoraManifest ManifestBase(TrainingPlan plan) => new()
    {
        Name = plan.Recipe.Name,
        Fingerprint = plan.Fingerprint,
        CreatedUtc = DateTime.UtcNow.ToString("O"),
        Tool = new ManifestTool { Name = "LoraRecipes", Version = ToolInfo.Version, TorchSharp = ToolInfo.TorchSharpVersion, LibTorch = ToolInfo.LibTorchVersion },
        Provenance = new ManifestProvenance { SourceRecipe = plan.RecipePath, Overrides = plan.Overrides },
        Seed = plan.Recipe.Training.Seed,
        Inputs = plan.InputFiles.Select(f => new ManifestInput { Path = f.Path, Sha256 = f.Sha256, Bytes = f.Size }).ToArray(),
    };

    private static LoraManifest Manifest<TLayer>(TrainingPlan plan, IReadOnlyDictionary<string, TLayer> adapters, LoadedModel model,
        TrainingSummary summary, RunEnvironment environment) where TLayer : IAdapterModule
    {
        long trainable = adapters.Values.Sum(a => a.TrainableParameterCount)
            + (model.Classifier is { } c ? SequenceClassification.HeadParameterCount(model.Module, SavedModules.For(c, plan.Recipe.Lora)) : 0);
        var metrics = new Dictionary<string, double?>(StringComparer.Ordinal)
        {
            ["initial_validation_loss"] = summary.InitialValidationLoss,
            ["final_validation_loss"] = summary.FinalValidationLoss,
            ["final_validation_perplexity"] = summary.FinalValidationLoss is { } l ? Math.Exp(l) : null,
            ["final_train_loss"] = summary.FinalTrainLoss,
        };
        if (model.Classifier is not null)
        {
            metrics["initial_validation_accuracy"] = summary.InitialAccuracy;
            metrics["final_validation_accuracy"] = summary.FinalAccuracy;
            metrics["final_validation_f1"] = summary.FinalMacroF1;
            metrics["final_validation_perplexity"] = null;
        }
        return ManifestBase(plan) with
        {
            Environment = new ManifestEnvironment
            {
                Device = environment.Device,
                Threads = environment.Threads,
                Precision = environment.Precision,
                Os = RuntimeInformation.OSDescription,
                Arch = RuntimeInformation.ProcessArchitecture.ToString(),
                NativeCompatFix = LibTorchLoader.Report.CompatibilityFixApplied,
            },
            BaseModel = new ManifestBaseModel
            {
                Spec = plan.Recipe.BaseModel, Folder = model.Folder, ModelType = model.Config.ModelType, Parameters = model.Config.ParameterCount(),
                // Where an imported model came from (builtin:minilm: NuGet package, version, SHA-256 of each resource).
                Source = IO.Onnx.OnnxImport.ReadProvenance(model.Folder),
            },
            Adapter = new ManifestAdapter { Modules = adapters.Count, TrainableParameters = trainable, Method = MethodNote(plan.Recipe) },
            Metrics = metrics,
            Steps = summary.Steps,
            SkippedSteps = summary.SkippedSteps,
            ResumedFrom = summary.ResumedFromStep,
            WallSeconds = Math.Round(summary.WallSeconds, 2),
            TokensPerSecond = Math.Round(summary.TokensPerSecond, 1),
            TrainedTokens = summary.TrainedTokens,
            PeakMemoryBytes = summary.PeakMemoryBytes,
            // HF keeps num_labels/id2label in the model's config.json; PEFT's adapter_config has no place for them, so
            // the manifest carries them and loaders size the head from here (PEFT users pass them to from_pretrained).
            Labels = model.Classifier is { } classifier ? ManifestLabels.From(classifier.Labels) : null,
        };
    }

    /// <summary>The manifest's account of the method: its name, DoRA, and how a PiSSA/OLoRA adapter was saved.</summary>
    private static ManifestMethod MethodNote(Recipe recipe)
    {
        if (recipe.Method == AdapterMethod.Ia3) return new ManifestMethod { Name = "ia3" };
        if (recipe.Method == AdapterMethod.BottleneckAdapter) return new ManifestMethod { Name = "bottleneck_adapter" };
        if (recipe.Method == AdapterMethod.PromptTuning) return new ManifestMethod { Name = "prompt_tuning" };
        if (recipe.Method == AdapterMethod.PrefixTuning)
            return new ManifestMethod
            {
                Name = "prefix_tuning",
                Conversion = recipe.PrefixTuning.PrefixProjection
                    ? "saved as the projection's output (prompt_embeddings, n × layers·2·token_dim), as PEFT's get_prompt_embedding_to_save; the projection MLP is in the checkpoints only."
                    : null,
            };
        if (recipe.Method == AdapterMethod.PTuning)
            return new ManifestMethod
            {
                Name = "p_tuning",
                Conversion = "saved as the prompt encoder's output (prompt_embeddings), as PEFT's get_prompt_embedding_to_save; the encoder itself is in the checkpoints only.",
            };
        // pissa_niter_N (PiSSA by fast SVD) as the recipe spells it, so the manifest says which PiSSA ran.
        string init = recipe.Lora.PissaNiter is { } niter ? LoraOptions.PissaNiterPrefix + niter.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : YamlNames.ToYaml(recipe.Lora.Init, ["default", "gaussian", "pissa", "olora"]);
        return new ManifestMethod
        {
            Name = "lora",
            UseDora = recipe.Lora.UseDora,
            Init = init,
            Conversion = recipe.Lora.Init is LoraInit.Pissa or LoraInit.Olora
                ? $"trained against the residual base W - s*B0*A0 ({init}); saved converted to a rank-{2 * recipe.Lora.R} LoRA of the unmodified base " +
                  "(A' = [A; A0], B' = [B, -B0], lora_alpha doubled, init_lora_weights true), as PEFT's path_initial_model_for_weight_conversion: load and merge it onto the original model."
                : null,
        };
    }
}
