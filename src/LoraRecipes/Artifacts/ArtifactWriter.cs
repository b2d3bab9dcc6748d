using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Native;
using LoraRecipes.Recipes;
using LoraRecipes.Events;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>
/// Writes the artifact folder: PEFT adapter, manifest, metrics and resolved recipe. Every file is first
/// written into a staging folder and then renamed into place, manifest last, so a killed run leaves
/// either the previous artifact or the new one, never a torn file.
/// </summary>
public static partial class ArtifactWriter
{
    public const string AdapterConfigFile = "adapter_config.json";
    public const string AdapterWeightsFile = "adapter_model.safetensors";
    public const string ManifestFile = "lora-manifest.json";
    public const string ResolvedRecipeFile = "recipe.resolved.yaml";
    public const string MetricsFile = "metrics.jsonl";
    /// <summary>Bumped when the manifest's shape changes.</summary>
    public const int ManifestFormatVersion = 1;

    public static void Write(TrainingPlan plan, IReadOnlyDictionary<string, LoraLinear> adapters, LoadedModel model,
        MetricsLog log, TrainingSummary summary, RunEnvironment environment)
    {
        // GPT-2's Conv1D targets: PEFT needs fan_in_fan_out to merge; A and B are saved alike either way.
        bool fanInFanOut = model.Module is ICheckpointLayout { FanInFanOut: true };
        // Sequence classification: the head is PEFT's modules_to_save, saved beside A and B.
        var modulesToSave = model.Classifier is { } classifier ? SavedModules.For(classifier, plan.Recipe.Lora) : null;
        Commit(plan.OutputDirectory, [AdapterConfigFile, AdapterWeightsFile, ResolvedRecipeFile, MetricsFile, LossPlot.FileName, ManifestFile], staging =>
        {
            File.WriteAllText(Path.Combine(staging, AdapterConfigFile), AdapterConfig(plan, adapters, fanInFanOut, modulesToSave).ToJson());
            using (var scope = NewDisposeScope())
                WriteWeights(Path.Combine(staging, AdapterWeightsFile), adapters, modulesToSave is null ? null : SequenceClassification.HeadTensors(model.Module, modulesToSave));
            File.WriteAllText(Path.Combine(staging, ResolvedRecipeFile), PlanWriter.ToYaml(plan));
            File.WriteAllText(Path.Combine(staging, MetricsFile), log.ToJsonLines());
            LossPlot.Write(Path.Combine(staging, LossPlot.FileName), log);
            File.WriteAllText(Path.Combine(staging, ManifestFile), Manifest(plan, adapters, model, summary, environment));
        });
    }

    /// <summary>
    /// Writes <paramref name="files"/> into a staging folder inside <paramref name="output"/> (<paramref name="fill"/>),
    /// flushes them, then renames each into place, manifest last by the caller's order.
    /// </summary>
    private static void Commit(string output, string[] files, Action<string> fill)
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
    public static PeftAdapterConfig AdapterConfig(TrainingPlan plan, IReadOnlyDictionary<string, LoraLinear> adapters, bool fanInFanOut = false,
        IReadOnlyList<string>? modulesToSave = null)
    {
        var lora = plan.Recipe.Lora;
        bool byName = lora.TargetModules.All(t => !t.StartsWith("re:", StringComparison.Ordinal));
        var names = adapters.Keys.Select(p => p[(p.LastIndexOf('.') + 1)..]).Distinct().Order(StringComparer.Ordinal).ToList();
        return new PeftAdapterConfig
        {
            BaseModelNameOrPath = plan.BaseModel.Kind == BaseModelKind.Folder ? plan.BaseModel.Path! : plan.BaseModel.ToString(),
            R = lora.R,
            LoraAlpha = lora.Alpha,
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

    /// <summary>A and B of every wrapped module under PEFT's saved names, fp32, contiguous; plus <paramref name="extra"/>
    /// (the <c>modules_to_save</c> tensors, already under their saved names).</summary>
    public static void WriteWeights(string path, IReadOnlyDictionary<string, LoraLinear> adapters, IReadOnlyDictionary<string, Tensor>? extra = null)
    {
        using var scope = NewDisposeScope();
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in extra ?? new Dictionary<string, Tensor>()) tensors[name] = t;
        foreach (var (modulePath, layer) in adapters)
        {
            tensors[AdapterKeys.For(modulePath, "lora_A")] = layer.A.detach().cpu().to(ScalarType.Float32).contiguous();   // (r, in)
            tensors[AdapterKeys.For(modulePath, "lora_B")] = layer.B.detach().cpu().to(ScalarType.Float32).contiguous();   // (out, r)
        }
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>
    /// The manifest keys every artifact has, however its adapter was trained: format, name, the plan's fingerprint
    /// (what the build compares), time, tool versions, seed and the hashed inputs.
    /// </summary>
    private static JsonObject ManifestBase(TrainingPlan plan) => new()
    {
        ["format_version"] = ManifestFormatVersion,
        ["name"] = plan.Recipe.Name,
        ["fingerprint"] = plan.Fingerprint,
        ["created_utc"] = DateTime.UtcNow.ToString("O"),
        ["tool"] = new JsonObject { ["name"] = "LoraRecipes", ["version"] = ToolInfo.Version, ["torchsharp"] = ToolInfo.TorchSharpVersion, ["libtorch"] = ToolInfo.LibTorchVersion },
        ["seed"] = plan.Recipe.Training.Seed,
        ["inputs"] = new JsonArray(plan.InputFiles.Select(f => (JsonNode?)new JsonObject
        {
            ["path"] = f.Path,
            ["sha256"] = f.Sha256,
            ["bytes"] = f.Size,
        }).ToArray()),
    };

    private static string Manifest(TrainingPlan plan, IReadOnlyDictionary<string, LoraLinear> adapters, LoadedModel model,
        TrainingSummary summary, RunEnvironment environment)
    {
        long trainable = adapters.Values.Sum(a => a.A.numel() + a.B.numel())
            + (model.Classifier is { } c ? SequenceClassification.HeadParameterCount(model.Module, SavedModules.For(c, plan.Recipe.Lora)) : 0);
        var root = ManifestBase(plan);
        foreach (var (key, value) in new JsonObject
        {
            ["environment"] = new JsonObject
            {
                ["device"] = environment.Device,
                ["threads"] = environment.Threads,
                ["precision"] = environment.Precision,
                ["os"] = RuntimeInformation.OSDescription,
                ["arch"] = RuntimeInformation.ProcessArchitecture.ToString(),
                ["native_compat_fix"] = LibTorchLoader.Report.CompatibilityFixApplied,
            },
            ["base_model"] = new JsonObject
            {
                ["spec"] = plan.Recipe.BaseModel, ["folder"] = model.Folder, ["model_type"] = model.Config.ModelType, ["parameters"] = model.Config.ParameterCount(),
                // Where an imported model came from (builtin:minilm: NuGet package, version, SHA-256 of each resource).
                ["source"] = IO.Onnx.OnnxImport.ReadProvenance(model.Folder),
            },
            ["adapter"] = new JsonObject { ["modules"] = adapters.Count, ["trainable_parameters"] = trainable },
            ["metrics"] = new JsonObject
            {
                ["initial_validation_loss"] = summary.InitialValidationLoss,
                ["final_validation_loss"] = summary.FinalValidationLoss,
                ["final_validation_perplexity"] = summary.FinalValidationLoss is { } l ? Math.Exp(l) : null,
                ["final_train_loss"] = summary.FinalTrainLoss,
            },
            ["steps"] = summary.Steps,
            ["skipped_steps"] = summary.SkippedSteps,
            ["resumed_from"] = summary.ResumedFromStep,
            ["wall_seconds"] = Math.Round(summary.WallSeconds, 2),
            ["tokens_per_second"] = Math.Round(summary.TokensPerSecond, 1),
            ["trained_tokens"] = summary.TrainedTokens,
            ["peak_memory_bytes"] = summary.PeakMemoryBytes,
        })
        {
            root[key] = value?.DeepClone();
        }
        if (model.Classifier is { } classifier)
        {
            // HF keeps num_labels/id2label in the model's config.json; PEFT's adapter_config has no place for them, so
            // the manifest carries them and loaders size the head from here (PEFT users pass them to from_pretrained).
            var labels = new JsonObject { ["num_labels"] = classifier.Labels.Count };
            ClassificationLabels.Write(labels, classifier.Labels);
            root["labels"] = labels;
            var metrics = (JsonObject)root["metrics"]!;
            metrics["initial_validation_accuracy"] = summary.InitialAccuracy;
            metrics["final_validation_accuracy"] = summary.FinalAccuracy;
            metrics["final_validation_f1"] = summary.FinalMacroF1;
            metrics["final_validation_perplexity"] = null;
        }
        return root.ToJsonString(JsonOptions.Indented);
    }
}
