using LoraRecipes.Events;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>The artifact of <c>method: freeze</c>: a delta of the tensors that trained, under the base checkpoint's own names.</summary>
public static partial class ArtifactWriter
{
    /// <summary>
    /// Writes a freeze artifact: adapter_model.safetensors holds, under the model's HF tensor names and in the checkpoint's
    /// layout (GPT-2 Conv1D transposed back), fp32, the tensors of the blocks unfrozen at the end, the head and extra modules,
    /// and a classifier's head; adapter_config.json says <c>peft_type: FREEZE</c> (ours: PEFT has no such type).
    /// </summary>
    public static void WriteFreeze(TrainingPlan plan, FrozenBlocks frozen, LoadedModel model, MetricsLog log, TrainingSummary summary,
        RunEnvironment environment, ManifestStopping? stopping = null)
    {
        var settings = frozen.Settings;
        int finalCount = frozen.ActiveAt(Math.Max(1, summary.Steps));
        var heads = model.Classifier is { } classifier ? SavedModules.For(classifier, plan.Recipe.Lora) : [];
        var config = new PeftAdapterConfig
        {
            PeftType = PeftAdapterConfig.FreezeType,
            BaseModelNameOrPath = plan.BaseModel.Kind == BaseModelKind.Folder ? plan.BaseModel.Path! : plan.BaseModel.ToString(),
            R = 0,
            LoraAlpha = 0,
            LayersToTransform = settings.BlocksFor(finalCount),
            NumLayers = settings.BlockCount,
            TrainableModules = settings.Modules.Count == 0 ? [FreezeOptions.AllModules] : settings.Modules,
            ExtraModules = settings.ExtraModules,
            TrainHead = plan.Recipe.Freeze.TrainHead,
            TaskType = plan.Recipe.Task == TaskType.SequenceClassification ? PeftAdapterConfig.SequenceClassificationTask : "CAUSAL_LM",
            ModulesToSave = heads.Count > 0 ? heads : null,
        };
        Commit(plan.OutputDirectory, ArtifactFiles.All, staging =>
        {
            (int Tensors, long Elements) delta;
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.AdapterConfig), config.ToJson());
            using (var scope = NewDisposeScope())
                delta = WriteDelta(Path.Combine(staging, ArtifactFiles.AdapterWeights), model.Module, frozen.TrainableWith(finalCount).Select(p => p.Name), heads);
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.ResolvedRecipe), PlanWriter.ToYaml(plan));
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.Metrics), log.ToJsonLines());
            LossPlot.Write(Path.Combine(staging, ArtifactFiles.LossPlot), log);
            var manifest = Manifest(plan, new Dictionary<string, IAdapterLayer>(), model, summary, environment);
            // The delta holds exactly the trained tensors, each once (a head both in freeze and modules_to_save, a tied lm_head).
            long trainable = delta.Elements;
            var note = FreezeNote(plan.Recipe.Freeze, frozen, finalCount, delta.Tensors);
            manifest = manifest with
            {
                Stopping = stopping,
                Adapter = manifest.Adapter! with { Modules = finalCount, TrainableParameters = trainable, Method = new ManifestMethod { Name = "freeze", Freeze = note } },
            };
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.Manifest), manifest.ToJson());
        });
    }

    /// <summary>
    /// Writes the named parameters (and those under <paramref name="heads"/>) as the checkpoint stores them
    /// (<see cref="HfCheckpoint.StateDict"/>: HF names, Conv1D transposed), fp32; returns the tensor and element counts.
    /// </summary>
    private static (int Tensors, long Elements) WriteDelta(string path, nn.Module model, IEnumerable<string> names, IReadOnlyList<string> heads)
    {
        var state = HfCheckpoint.StateDict(model);
        var wanted = names.ToHashSet(StringComparer.Ordinal);
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, value) in state)
        {
            bool head = heads.Any(m => name.StartsWith(m + ".", StringComparison.Ordinal) || name.Contains("." + m + ".", StringComparison.Ordinal));
            if (wanted.Contains(name) || head) tensors[name] = value.cpu().to(ScalarType.Float32).contiguous();
        }
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["lora_recipes_method"] = "freeze" });
        return (tensors.Count, tensors.Values.Sum(t => t.numel()));
    }

    private static ManifestFreeze FreezeNote(FreezeOptions options, FrozenBlocks frozen, int finalCount, int tensors)
    {
        var s = frozen.Settings;
        var joined = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int count = 1; count <= finalCount; count++)
            joined[(s.BlockCount - count).ToString(System.Globalization.CultureInfo.InvariantCulture)] = s.JoinStep(count, frozen.StepsPerEpoch);
        return new ManifestFreeze
        {
            BlockCount = s.BlockCount,
            TrainableLayers = s.InitialLayers,
            InitialBlocks = s.BlocksFor(s.InitialLayers),
            FinalBlocks = s.BlocksFor(finalCount),
            Modules = options.Modules.ToList(),
            ExtraModules = options.ExtraModules.ToList(),
            TrainHead = options.TrainHead,
            Every = options.UnfreezeEvery,
            Unit = options.UnfreezeEvery is null ? null : options.UnfreezeUnit == UnfreezeUnit.Epochs ? "epochs" : "steps",
            MaxLayers = options.UnfreezeEvery is null ? null : s.MaxLayers,
            UnfrozenAtStep = joined,
            Tensors = tensors,
        };
    }
}
