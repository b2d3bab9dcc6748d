using System.Text.RegularExpressions;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Training.Tasks;
using TorchSharp;

namespace LoraRecipes.Training;

/// <summary>One kind of LoRA target (<c>q_proj</c>, <c>q_lin</c>, …) and the module paths it matched.</summary>
public sealed record TargetGroup(string Name, IReadOnlyList<string> Paths)
{
    /// <summary>The paths in one line: <c>model.layers.{0..31}.self_attn.q_proj</c> when they differ only in the layer index.</summary>
    public string Compact => PathRanges.Compact(Paths);
}

/// <summary>
/// What a plan trains, counted the way PEFT's <c>print_trainable_parameters</c> does: trainable = LoRA A and B plus the
/// <c>modules_to_save</c> copies; all = the base model's parameters plus LoRA plus those copies (PEFT keeps the original
/// module and a trainable copy side by side, so it counts a saved head twice in "all params").
/// </summary>
public sealed record TrainableParameters(string ModelType, string ModelFolder, IReadOnlyList<TargetGroup> Targets, IReadOnlyList<string> ModulesToSave,
    long LoraParameters, long SavedModuleParameters, long BaseParameters)
{
    /// <summary>method: freeze — the blocks and parameters trainable at the start and once the schedule has ended; null for other methods.</summary>
    public FreezeCounts? Freeze { get; init; }

    public long Trainable => LoraParameters + SavedModuleParameters;
    /// <summary>All parameters; freeze adds none and copies none (its head trains in place), so it is the base model's count.</summary>
    public long All => Freeze is null ? BaseParameters + LoraParameters + SavedModuleParameters : BaseParameters;
    public double TrainablePercent => All == 0 ? 0 : 100.0 * Trainable / All;

    /// <summary>PEFT's line: <c>trainable params: 1,234 || all params: 56,789 || trainable%: 2.1730</c>.</summary>
    public string PeftLine => Line(Trainable);

    /// <summary>PEFT's line once a freeze schedule has unfrozen all it will (same as <see cref="PeftLine"/> without one).</summary>
    public string PeftLineAtEnd => Freeze is { } f ? Line(f.FinalParameters + SavedModuleParameters) : PeftLine;

    private string Line(long trainable) =>
        FormattableString.Invariant($"trainable params: {trainable:N0} || all params: {All:N0} || trainable%: {(All == 0 ? 0 : 100.0 * trainable / All):F4}");

    /// <summary>Loads the plan's base model (with the classification head for sequence-classification), injects LoRA, counts.</summary>
    public static TrainableParameters For(TrainingPlan plan)
    {
        string folder = ModelLoader.ResolveFolder(plan.BaseModel);
        var task = TrainingTasks.For(plan, folder);
        using var model = task.LoadModel(folder, torch.CPU, torch.ScalarType.Float32);
        long baseParameters = CountDistinct(model.Module);
        var wrapped = AdapterMethods.Inject(model.Module, AdapterMethods.For(plan.Recipe, model.Config.ModelType, tokenizer: model.Tokenizer), model.Classifier?.HeadModules);
        var saved = task.ModulesToSave(model);
        if (AdapterMethods.Freeze(model.Module, plan.Recipe, model.Config.ModelType, model.Config.NumHiddenLayers, model.Classifier is not null) is { } frozen)
        {
            var f = frozen.Settings;
            // The head a classifier always trains is counted once, as modules_to_save; a freeze candidate inside it is not counted again.
            long headOverlap = frozen.TrainableWith(0).Where(p => saved.Any(m => p.Name.StartsWith(m + ".", StringComparison.Ordinal))).Sum(p => p.Param.numel());
            return new TrainableParameters(model.Config.ModelType, model.Folder, [], saved, frozen.ParametersWith(f.InitialLayers) - headOverlap,
                SequenceClassification.HeadParameterCount(model.Module, saved), baseParameters)
            {
                Freeze = new FreezeCounts(f.BlockCount, f.BlocksFor(f.InitialLayers), f.BlocksFor(f.MaxLayers), frozen.ParametersWith(f.InitialLayers) - headOverlap,
                    frozen.ParametersWith(f.MaxLayers) - headOverlap, f.Every is { } every ? (f.MaxLayers - f.InitialLayers) * every : null, f.Unit, f.Modules, f.HeadModules),
            };
        }
        var groups = wrapped.Keys.GroupBy(p => p[(p.LastIndexOf('.') + 1)..], StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new TargetGroup(g.Key, g.ToList()))
            .ToList();
        return new TrainableParameters(model.Config.ModelType, model.Folder, groups, saved,
            wrapped.Values.Sum(l => l.TrainableParameterCount),   // LoRA: A + B (+ out for DoRA's magnitude); IA3: in or out per layer
            SequenceClassification.HeadParameterCount(model.Module, saved),
            baseParameters);
    }

    /// <summary>
    /// Parameters of <paramref name="module"/>, a tensor shared by two modules (a tied lm_head and embedding) counted once,
    /// as torch's <c>parameters()</c> does; TorchSharp's lists a tied tensor under each module that holds it.
    /// </summary>
    public static long CountDistinct(torch.nn.Module module)
    {
        // TorchSharp hands out a separate wrapper per module for a tied tensor: compare the storage, not the object.
        var seen = new HashSet<(IntPtr, long, long)>();
        long total = 0;
        foreach (var p in module.parameters())
            if (seen.Add((StoragePointer(p), p.storage_offset(), p.numel()))) total += p.numel();
        return total;
    }

    private static IntPtr StoragePointer(torch.Tensor p)
    {
        if (p.dtype == torch.ScalarType.Float32) { using var s = p.storage<float>(); return s.data_ptr(); }
        // TorchSharp's Storage<T> has no BFloat16/Half (NotSupportedException): such a tensor counts by its wrapper, so
        // a tied head in a bf16 base still counts twice in the run header (the count only; the tensor is shared).
        return p.Handle;
    }
}

/// <summary>method: freeze in the plan: blocks and trainable parameters at the start and when the schedule has ended.</summary>
/// <param name="BlockCount">The model's transformer blocks.</param>
/// <param name="InitialBlocks">Blocks trainable from step 1.</param>
/// <param name="FinalBlocks">Blocks trainable once the schedule has unfrozen all it will (InitialBlocks without one).</param>
/// <param name="InitialParameters">Trainable parameters at step 1 (blocks, head, extra modules; a classifier's head is counted apart).</param>
/// <param name="FinalParameters">The same with FinalBlocks.</param>
/// <param name="FinalJoinsAfter">Units (steps or epochs) after which the last block joins; null without a schedule.</param>
/// <param name="Unit">The schedule's unit.</param>
/// <param name="Modules">Block sub-modules that train (empty: all).</param>
/// <param name="HeadModules">The head train_head trains.</param>
public sealed record FreezeCounts(int BlockCount, IReadOnlyList<int> InitialBlocks, IReadOnlyList<int> FinalBlocks, long InitialParameters, long FinalParameters,
    int? FinalJoinsAfter, UnfreezeUnit Unit, IReadOnlyList<string> Modules, IReadOnlyList<string> HeadModules);

/// <summary>Writes many module paths that differ only in one number as a single path with a range.</summary>
internal static class PathRanges
{
    private static readonly Regex Number = new(@"(?<=\.)\d+(?=\.)", RegexOptions.CultureInvariant);

    public static string Compact(IReadOnlyList<string> paths)
    {
        if (paths.Count <= 1) return string.Join(", ", paths);
        // The first dotted number is the layer index in every family here (layers.N, layer.N, h.N).
        var keys = paths.Select(p => (Path: p, Match: Number.Match(p))).ToList();
        if (keys.Any(k => !k.Match.Success)) return string.Join(", ", paths);
        var templates = keys.Select(k => k.Path[..k.Match.Index] + "{}" + k.Path[(k.Match.Index + k.Match.Length)..]).Distinct().ToList();
        if (templates.Count != 1) return string.Join(", ", paths);
        var numbers = keys.Select(k => int.Parse(k.Match.Value, System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
        bool contiguous = numbers[^1] - numbers[0] == numbers.Count - 1 && numbers.Distinct().Count() == numbers.Count;
        string range = contiguous ? $"{{{numbers[0]}..{numbers[^1]}}}" : "{" + string.Join(",", numbers) + "}";
        return templates[0].Replace("{}", range, StringComparison.Ordinal);
    }
}
