using System.Runtime.InteropServices;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Native;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Training;
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
    public static void Write(TrainingPlan plan, IReadOnlyDictionary<string, LoraLinear> adapters, LoadedModel model,
        MetricsLog log, TrainingSummary summary, RunEnvironment environment)
    {
        // GPT-2's Conv1D targets: PEFT needs fan_in_fan_out to merge; A and B are saved alike either way.
        bool fanInFanOut = model.Module is ICheckpointLayout { FanInFanOut: true };
        // Sequence classification: the head is PEFT's modules_to_save, saved beside A and B.
        var modulesToSave = model.Classifier is { } classifier ? ClassificationTask.ModulesToSave(classifier, plan.Recipe.Lora) : null;
        Commit(plan.OutputDirectory, ArtifactFiles.All, staging =>
        {
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.AdapterConfig), AdapterConfig(plan, adapters, fanInFanOut, modulesToSave).ToJson());
            using (var scope = NewDisposeScope())
                WriteWeights(Path.Combine(staging, ArtifactFiles.AdapterWeights), adapters, modulesToSave is null ? null : SequenceClassification.HeadTensors(model.Module, modulesToSave));
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.ResolvedRecipe), PlanWriter.ToYaml(plan));
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.Metrics), log.ToJsonLines());
            LossPlot.Write(Path.Combine(staging, ArtifactFiles.LossPlot), log);
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.Manifest), Manifest(plan, adapters, model, summary, environment).ToJson());
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

    private static LoraManifest Manifest(TrainingPlan plan, IReadOnlyDictionary<string, LoraLinear> adapters, LoadedModel model,
        TrainingSummary summary, RunEnvironment environment)
    {
        long trainable = adapters.Values.Sum(a => a.A.numel() + a.B.numel())
            + (model.Classifier is { } c ? SequenceClassification.HeadParameterCount(model.Module, ClassificationTask.ModulesToSave(c, plan.Recipe.Lora)) : 0);
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
            Adapter = new ManifestAdapter { Modules = adapters.Count, TrainableParameters = trainable },
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
}
