using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// <c>method: freeze</c> on a loaded model: the parameters of the last blocks (their chosen sub-modules), of the head and
/// of the extra modules, grouped so that the trainer can switch <c>requires_grad</c> block by block as the unfreeze schedule
/// goes on. Nothing is wrapped: the model computes exactly what the base computes, with some of its own tensors trained.
/// </summary>
/// <remarks>
/// The candidates — every parameter that trains at some point — are handed to the optimizer once, at the start. A block
/// not yet unfrozen has <c>requires_grad</c> false, so it takes no gradient, and AdamW leaves a parameter without a
/// gradient untouched (no decay, moments zero, its own step count zero): it joins as if it were added at its unfreeze step.
/// Tied weights (lm_head = embed_tokens) are one tensor and are listed once, under the embedding's name.
/// </remarks>
public sealed class FrozenBlocks
{
    private readonly SortedDictionary<int, List<(string Name, Parameter Param)>> _blocks = [];
    private readonly List<(string Name, Parameter Param)> _always = [];

    private FrozenBlocks(FreezeSettings settings) => Settings = settings;

    /// <summary>The resolved settings.</summary>
    public FreezeSettings Settings { get; }

    /// <summary>Updates per epoch (for an epoch schedule); the trainer sets it once the data is read.</summary>
    public int StepsPerEpoch { get; set; } = 1;

    /// <summary>
    /// Finds the candidates in <paramref name="model"/>. Every <c>modules</c> entry must name a sub-module of the blocks and every
    /// <c>extra_modules</c> entry a module outside them; otherwise the error lists what the model has.
    /// </summary>
    public static FrozenBlocks Select(nn.Module model, FreezeSettings settings)
    {
        var frozen = new FrozenBlocks(settings);
        var seen = new HashSet<IntPtr>();
        var blockChildren = new SortedSet<string>(StringComparer.Ordinal);
        var usedModules = new HashSet<string>(StringComparer.Ordinal);
        var usedExtra = new HashSet<string>(StringComparer.Ordinal);
        int firstCandidate = settings.BlockCount - settings.MaxLayers;
        foreach (var (name, p) in model.named_parameters())
        {
            if (!seen.Add(p.Handle)) continue;   // a tied weight: listed once, by its first (embedding) name
            if (settings.BlockOf(name, out string rest) is { } block)
            {
                blockChildren.Add(rest[..Math.Max(0, rest.IndexOf('.'))]);
                var matched = settings.Modules.Where(m => Under(rest, m)).ToList();
                usedModules.UnionWith(matched);
                if (block >= firstCandidate && (settings.Modules.Count == 0 || matched.Count > 0))
                {
                    if (!frozen._blocks.TryGetValue(block, out var list)) frozen._blocks[block] = list = [];
                    list.Add((name, p));
                }
                continue;
            }
            var extra = settings.ExtraModules.Where(m => Under(name, m)).ToList();
            usedExtra.UnionWith(extra);
            if (extra.Count > 0 || settings.HeadModules.Any(m => Under(name, m)) || IsTiedHead(model, settings, p))
                frozen._always.Add((name, p));
        }
        if (blockChildren.Count == 0)
            throw new LoraTargetException($"method: freeze found no transformer block under '{settings.BlockPrefix}N.' in this {settings.ModelType} model.");
        if (settings.Modules.Except(usedModules).ToList() is { Count: > 0 } unknownModules)
            throw new LoraTargetException($"freeze.modules [{string.Join(", ", unknownModules)}] matched nothing in the blocks of this {settings.ModelType} model; " +
                $"a block has: {string.Join(", ", blockChildren)} (or name a module inside one, e.g. a projection).");
        if (settings.ExtraModules.Except(usedExtra).ToList() is { Count: > 0 } unknownExtra)
            throw new LoraTargetException($"freeze.extra_modules [{string.Join(", ", unknownExtra)}] matched no parameter outside the blocks of this {settings.ModelType} model; " +
                $"it has: {string.Join(", ", model.named_parameters().Select(p => p.name).Where(n => settings.BlockOf(n, out _) is null))}.");
        return frozen;
    }

    /// <summary>True when <paramref name="path"/> lies under module <paramref name="module"/> (a name or dotted suffix at any depth).</summary>
    private static bool Under(string path, string module) =>
        path.StartsWith(module + ".", StringComparison.Ordinal) || path.Contains("." + module + ".", StringComparison.Ordinal);

    /// <summary>A tied lm_head is the embedding's tensor: training the head trains it (seen first, under the embedding's name).</summary>
    private static bool IsTiedHead(nn.Module model, FreezeSettings settings, Parameter p) =>
        settings.HeadModules.Contains("lm_head") && model.named_parameters().Any(q => q.name == "lm_head.weight" && q.parameter.Handle == p.Handle);

    /// <summary>Every parameter that trains at some point (head and extra modules, then blocks top-down), each tensor once.</summary>
    public IReadOnlyList<(string Name, Parameter Param)> Candidates =>
        _always.Concat(_blocks.Reverse().SelectMany(b => b.Value)).ToList();

    /// <summary>The names of the tensors trainable with <paramref name="count"/> blocks unfrozen (what the delta holds at the end).</summary>
    public IReadOnlyList<(string Name, Parameter Param)> TrainableWith(int count) =>
        _always.Concat(Settings.BlocksFor(count).SelectMany(b => _blocks.GetValueOrDefault(b) ?? [])).ToList();

    /// <summary>Parameters trainable with <paramref name="count"/> blocks unfrozen (plus the classifier head, counted by the caller).</summary>
    public long ParametersWith(int count) => TrainableWith(count).Sum(p => p.Param.numel());

    /// <summary>Blocks trainable for update <paramref name="step"/> (1-based).</summary>
    public int ActiveAt(int step) => Settings.ActiveAt(step, StepsPerEpoch);

    /// <summary>Sets requires_grad for update <paramref name="step"/> (1-based): true on the head, extra modules and the active blocks, false on the other candidates.</summary>
    public void Apply(int step)
    {
        var active = Settings.BlocksFor(ActiveAt(step)).ToHashSet();
        foreach (var (_, p) in _always) p.requires_grad = true;
        foreach (var (block, list) in _blocks)
            foreach (var (_, p) in list) p.requires_grad = active.Contains(block);
    }
}
