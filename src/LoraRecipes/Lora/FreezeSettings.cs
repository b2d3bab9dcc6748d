using LoraRecipes.Recipes;

namespace LoraRecipes.Lora;

/// <summary>
/// The recipe's <c>freeze:</c> block resolved for one model family: where its transformer blocks are (the parameter-path
/// prefix before the block number), which module is its head, and the counts checked against the model's block count.
/// </summary>
/// <param name="ModelType">config.json's model_type.</param>
/// <param name="BlockCount">The model's transformer blocks (num_hidden_layers), numbered 0..BlockCount-1 from the input.</param>
/// <param name="BlockPrefix">The parameter-path part before the block number (<c>model.layers.</c>, <c>encoder.layer.</c>, …).</param>
/// <param name="HeadModules">The head that <c>train_head</c> trains: lm_head for a causal LM, the pooler for a BERT classifier.</param>
/// <param name="InitialLayers">Blocks trainable from step 1 (the last ones).</param>
/// <param name="MaxLayers">Blocks trainable at most (InitialLayers without a schedule).</param>
/// <param name="Modules">Sub-modules of a block that train; empty: all.</param>
/// <param name="ExtraModules">Modules outside the blocks that train.</param>
/// <param name="Every">One more block every this many <paramref name="Unit"/>; null: no schedule.</param>
/// <param name="Unit">Steps or epochs.</param>
public sealed record FreezeSettings(string ModelType, int BlockCount, string BlockPrefix, IReadOnlyList<string> HeadModules, int InitialLayers, int MaxLayers,
    IReadOnlyList<string> Modules, IReadOnlyList<string> ExtraModules, int? Every, UnfreezeUnit Unit)
{
    /// <summary>Blocks trainable for update <paramref name="step"/> (1-based) when an epoch has <paramref name="stepsPerEpoch"/> updates:
    /// InitialLayers + ⌊(step−1)/every⌋ (steps) or + ⌊epoch/every⌋ with epoch = ⌊(step−1)/stepsPerEpoch⌋ (epochs), at most MaxLayers.</summary>
    public int ActiveAt(int step, int stepsPerEpoch)
    {
        if (Every is not { } every) return InitialLayers;
        long units = Unit == UnfreezeUnit.Steps ? Math.Max(0, step - 1) : Math.Max(0, step - 1) / Math.Max(1, stepsPerEpoch);
        return (int)Math.Min(MaxLayers, InitialLayers + units / every);
    }

    /// <summary>The first update (1-based) at which <paramref name="count"/> blocks are trainable; 1 for the initial ones.</summary>
    public int JoinStep(int count, int stepsPerEpoch)
    {
        if (count <= InitialLayers || Every is not { } every) return 1;
        long units = (long)(count - InitialLayers) * every;
        return (int)Math.Min(int.MaxValue, (Unit == UnfreezeUnit.Steps ? units : units * Math.Max(1, stepsPerEpoch)) + 1);
    }

    /// <summary>The indices of the last <paramref name="count"/> blocks, ascending.</summary>
    public IReadOnlyList<int> BlocksFor(int count) => Enumerable.Range(BlockCount - count, count).ToList();

    /// <summary>The block number of a parameter path (and the path inside the block), or null outside the blocks.</summary>
    public int? BlockOf(string parameterPath, out string rest)
    {
        rest = "";
        int at = parameterPath.StartsWith(BlockPrefix, StringComparison.Ordinal) ? 0
            : parameterPath.IndexOf("." + BlockPrefix, StringComparison.Ordinal) is var i and >= 0 ? i + 1 : -1;
        if (at < 0) return null;
        int start = at + BlockPrefix.Length, end = parameterPath.IndexOf('.', start);
        if (end < 0 || !int.TryParse(parameterPath.AsSpan(start, end - start), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int block)) return null;
        rest = parameterPath[(end + 1)..];
        return block;
    }

    /// <summary>
    /// The recipe's block on a model of <paramref name="modelType"/> with <paramref name="blockCount"/> blocks. A
    /// <c>trainable_layers</c> or <c>max_layers</c> above the block count is an error naming it (the binder cannot know it).
    /// </summary>
    public static FreezeSettings Resolve(FreezeOptions options, string modelType, int blockCount, bool classifier)
    {
        if (!Family.TryGetValue(modelType, out var family))
            throw new LoraTargetException($"method: freeze has no block table for model_type {modelType}; supported: {string.Join(", ", Family.Keys.Order(StringComparer.Ordinal))}.");
        if (options.TrainableLayers > blockCount)
            throw new LoraTargetException($"freeze.trainable_layers is {options.TrainableLayers} but this {modelType} model has {blockCount} transformer blocks; use 1..{blockCount} (or 0 for the head alone).");
        if (options.MaxLayers is { } max && max > blockCount)
            throw new LoraTargetException($"freeze.unfreeze_schedule.max_layers is {max} but this {modelType} model has {blockCount} transformer blocks; use at most {blockCount}, or null for all.");
        string[] head = !options.TrainHead ? [] : classifier ? family.ClassifierHead : ["lm_head"];
        int maxLayers = options.UnfreezeEvery is null ? options.TrainableLayers : Math.Max(options.TrainableLayers, options.MaxLayers ?? blockCount);
        return new FreezeSettings(modelType, blockCount, family.Prefix, head, options.TrainableLayers, maxLayers,
            options.AllBlockModules ? [] : options.Modules.ToList(), options.ExtraModules.ToList(), options.UnfreezeEvery, options.UnfreezeUnit);
    }

    /// <summary>Each family's block prefix (HF names) and the head a classifier's train_head adds (its classification head always trains).</summary>
    private static readonly Dictionary<string, (string Prefix, string[] ClassifierHead)> Family = new(StringComparer.Ordinal)
    {
        ["llama"] = ("model.layers.", []),
        ["mistral"] = ("model.layers.", []),
        ["qwen2"] = ("model.layers.", []),
        ["qwen3"] = ("model.layers.", []),
        ["gpt2"] = ("transformer.h.", []),
        ["bert"] = ("encoder.layer.", ["pooler"]),
        ["distilbert"] = ("transformer.layer.", []),
    };
}
