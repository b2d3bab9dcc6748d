using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Runtime;

/// <summary>One adapter loaded over a shared base: its folder, its layers by module path, and what the runtime needs per call.</summary>
/// <param name="Name">The name calls select it by.</param>
/// <param name="Folder">The adapter folder it came from.</param>
/// <param name="Layers">Its wrapped modules by path.</param>
/// <param name="Formatter">Its recipe's prompt template; null without a recipe.</param>
/// <param name="Labels">Its classes (SEQ_CLS); empty for causal-lm.</param>
/// <param name="MaxLength">Its recipe's <c>data.max_length</c> (classification input cut).</param>
public sealed record LoadedAdapter(string Name, AdapterFolder Folder, IReadOnlyDictionary<string, IAdapterLayer> Layers,
    PromptFormatter? Formatter, IReadOnlyList<string> Labels, int MaxLength);

/// <summary>
/// Several adapters over one loaded base model. Each adapter is applied by <see cref="AdapterLoader"/> exactly as when it
/// is alone, then its layers are lifted out of the model into one <see cref="AdapterSwitch"/> per wrapped module, so the
/// base weights are held once. <c>modules_to_save</c> tensors (a SEQ_CLS head) are kept per adapter and copied into the
/// model's own modules when the selection changes (<see cref="Select"/>); the base's values are kept for "no adapter".
/// Not thread-safe: the owner (<see cref="LoraModel"/>) holds a lock around <see cref="Select"/> and the forward.
/// </summary>
internal sealed class AdapterSet : IDisposable
{
    private readonly LoadedModel _model;
    private readonly Dictionary<string, AdapterSwitch> _switches = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoadedAdapter> _adapters = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Dictionary<string, Tensor> _baseSaved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, Tensor>> _saved = new(StringComparer.Ordinal);
    private string? _savedApplied;
    // Prompt-learning adapters' virtual tokens or prefix, by adapter name: put into the model's slot while that adapter is selected.
    private readonly Dictionary<string, (bool Prefix, Func<Tensor> Source, int Count)> _prompts = new(StringComparer.Ordinal);

    public AdapterSet(LoadedModel model) => _model = model;

    /// <summary>The shared selection every switch reads.</summary>
    public AdapterSelection Selection { get; } = new();

    /// <summary>Adapter names in load order.</summary>
    public IReadOnlyList<string> Names => _order;

    public LoadedAdapter this[string name] => _adapters.TryGetValue(name, out var a) ? a
        : throw new ArgumentException($"no adapter named '{name}' is loaded; loaded: {string.Join(", ", _order)}.", nameof(name));

    public bool Contains(string name) => _adapters.ContainsKey(name);

    /// <summary>
    /// Checks <paramref name="folder"/> against the base and the adapters already here, applies it and lifts its layers
    /// into the switches. Errors name the folder.
    /// </summary>
    public LoadedAdapter Add(string name, AdapterFolder folder, string? baseModel)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (_adapters.ContainsKey(name))
            throw new AdapterLoadException(folder.Path, $"an adapter named '{name}' is already loaded; give this one another name.");
        CheckCompatible(folder, baseModel);
        // A freeze delta replaces base tensors in place: it cannot sit beside other adapters on one shared base.
        if (_adapters.Count > 0 && (folder.HasConfig && folder.Config.IsFreeze || _adapters.Values.Any(a => a.Folder.Config.IsFreeze)))
            throw new AdapterLoadException(folder.Path, $"cannot be loaded beside {string.Join(", ", _order)}: a method: freeze delta replaces the base model's own tensors " +
                "(whole blocks), so it does not coexist with other adapters over one base. Open it in its own LoraModel (LoraModel.Load), or merge it " +
                "(dotnet lora merge) and use the merged folder as the base of the other adapters.");
        var hosts = Hosts();
        foreach (var (path, sw) in _switches) Replace(hosts, path, sw.Base);
        IReadOnlyDictionary<string, IAdapterLayer> layers;
        var savedNames = SavedParameterNames(folder);
        try
        {
            using (no_grad()) Snapshot(savedNames, _baseSaved, onlyNew: true);
            if (folder.Config.IsPromptLearning && _prompts.Count > 0)
                throw new AdapterLoadException(folder.Path, $"is a second {folder.Config.PeftType} adapter; one LoraModel serves one prompt-learning adapter (beside any LoRA/IA3 ones): open it in its own LoraModel.");
            layers = folder.Apply(_model.Module);
            if (folder.Config.IsPrefixTuning && _model.Module is IPrefixHost prefixHost)
            {
                _prompts[name] = (true, prefixHost.Prefix.Source!, prefixHost.Prefix.Count);
                (prefixHost.Prefix.Source, prefixHost.Prefix.Count) = (null, 0);   // off until selected
            }
            else if (folder.Config.IsPromptLearning && _model.Module is IVirtualTokenHost host)
            {
                _prompts[name] = (false, host.VirtualTokens.Source!, host.VirtualTokens.Count);
                (host.VirtualTokens.Source, host.VirtualTokens.Count) = (null, 0);   // off until selected
            }
            var mine = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            using (no_grad())
            {
                Snapshot(savedNames, mine, onlyNew: false);
                foreach (string p in savedNames) Parameter(p).copy_(_baseSaved[p]);   // back to the base until selected
            }
            _savedApplied = null;
            _saved[name] = mine;
            hosts = Hosts();
            foreach (var (path, layer) in layers)
            {
                Replace(hosts, path, layer.Base);
                if (!_switches.TryGetValue(path, out var sw)) _switches[path] = sw = new AdapterSwitch(layer.Base, Selection);
                sw.Add(name, layer);
            }
        }
        catch
        {
            // A failed apply may leave some layers wrapped and part of a head copied: put the base back.
            foreach (var (path, (host, child)) in Hosts())
            {
                if (host.LinearChildren().First(c => c.Name == child).Module is IAdapterLayer stray) host.ReplaceLinear(child, stray.Base);
            }
            using (no_grad()) foreach (string p in savedNames.Where(_baseSaved.ContainsKey)) Parameter(p).copy_(_baseSaved[p]);
            _savedApplied = null;
            throw;
        }
        finally
        {
            hosts = Hosts();
            foreach (var (path, sw) in _switches) Replace(hosts, path, sw);
        }
        var labels = folder.IsSequenceClassification ? folder.Labels(_model.Folder) ?? _model.Classifier!.Labels : [];
        var adapter = new LoadedAdapter(name, folder, layers, folder.IsSequenceClassification ? null : folder.Formatter(_model.Tokenizer), labels,
            folder.Recipe?.Data.MaxLength ?? _model.Config.MaxPositionEmbeddings);
        _adapters[name] = adapter;
        _order.Add(name);
        return adapter;
    }

    /// <summary>
    /// Takes adapter <paramref name="name"/> out: its layers leave their switches (a module no other adapter wraps gets its
    /// base layer back), its head tensors are dropped (the base's values go back in place if it was selected), and a
    /// selection of it falls back to the base. The other adapters' layer objects and the base weights are untouched.
    /// </summary>
    public void Remove(string name)
    {
        var adapter = this[name];
        var hosts = Hosts();
        foreach (string path in adapter.Layers.Keys)
        {
            var rest = _switches[path].Without(name);
            if (rest is null)
            {
                Replace(hosts, path, _switches[path].Base);
                _switches.Remove(path);
            }
            else
            {
                Replace(hosts, path, rest);
                _switches[path] = rest;
            }
        }
        if (Selection.Active == name) Selection.Active = null;
        if (_savedApplied == name)
        {
            using (no_grad()) foreach (var (p, baseValue) in _baseSaved) Parameter(p).copy_(baseValue);
            _savedApplied = null;
        }
        foreach (var t in _saved[name].Values) t.Dispose();
        _saved.Remove(name);
        _adapters.Remove(name);
        _order.Remove(name);
    }

    /// <summary>Routes the switches to <paramref name="name"/> (null: the base alone) and puts its saved modules in place.</summary>
    public void Select(string? name)
    {
        if (name is not null && !_adapters.ContainsKey(name)) _ = this[name];
        Selection.Active = name;
        (bool Prefix, Func<Tensor>? Source, int Count) prompt = name is not null && _prompts.TryGetValue(name, out var selected) ? selected : (false, null, 0);
        if (_model.Module is IVirtualTokenHost { } tokens)
            (tokens.VirtualTokens.Source, tokens.VirtualTokens.Count) = prompt.Prefix ? (null, 0) : (prompt.Source, prompt.Source is null ? 0 : prompt.Count);
        if (_model.Module is IPrefixHost { } prefixed)
            (prefixed.Prefix.Source, prefixed.Prefix.Count) = prompt.Prefix ? (prompt.Source, prompt.Count) : (null, 0);
        if (_savedApplied == name || _baseSaved.Count == 0) return;
        using (no_grad())
        {
            var mine = name is null ? null : _saved[name];
            foreach (var (p, baseValue) in _baseSaved) Parameter(p).copy_(mine?.GetValueOrDefault(p) ?? baseValue);
        }
        _savedApplied = name;
    }

    public void Dispose()
    {
        foreach (var t in _baseSaved.Values.Concat(_saved.Values.SelectMany(s => s.Values))) t.Dispose();
    }

    private void CheckCompatible(AdapterFolder folder, string? baseModel)
    {
        bool cls = _model.Classifier is not null;
        if (folder.IsSequenceClassification != cls)
            throw new AdapterLoadException(folder.Path, $"is a {folder.Config.TaskType} adapter, but this model serves {(cls ? "SEQ_CLS (sequence-classification)" : "CAUSAL_LM")} adapters; " +
                "adapters over one base share its task: open it in its own LoraModel.");
        if (baseModel is null)
        {
            string wanted = Path.GetFullPath(ModelLoader.ResolveFolder(folder.BaseModel()));
            if (!string.Equals(wanted.TrimEnd(Path.DirectorySeparatorChar), Path.GetFullPath(_model.Folder).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
                throw new AdapterLoadException(folder.Path, $"was trained on {folder.Config.BaseModelNameOrPath} ({wanted}), but this model's base is {_model.Folder}; " +
                    "adapters over one base must share it: open it in its own LoraModel, or name the base explicitly if it is the same model.");
        }
        if (cls && folder.Labels(_model.Folder) is { } labels && labels.Count != _model.Classifier!.Labels.Count)
            throw new AdapterLoadException(folder.Path, $"has {labels.Count} classes ({string.Join(", ", labels)}), but the head over this base has {_model.Classifier.Labels.Count}; " +
                "adapters over one base share the head's shape: open it in its own LoraModel.");
    }

    /// <summary>The model parameters the adapter's <c>modules_to_save</c> overwrite (AdapterLoader's rule; SEQ_CLS adds the head).</summary>
    private List<string> SavedParameterNames(AdapterFolder folder)
    {
        // A freeze delta's tensors are kept like modules_to_save, so that "no adapter" puts the base values back.
        if (folder.Config.IsFreeze) return FreezeDelta.Targets(_model.Module, folder.File(Recipes.Artifacts.ArtifactFiles.AdapterWeights)).Values.ToList();
        var modules = (folder.Config.ModulesToSave ?? []).ToList();
        if (folder.IsSequenceClassification) modules.AddRange(["classifier", "score"]);
        if (_model.Classifier is { } c && folder.IsSequenceClassification) modules.AddRange(c.HeadModules);
        return _model.Module.named_parameters().Select(p => p.name)
            .Where(n => modules.Any(m => n.StartsWith(m + ".", StringComparison.Ordinal) || n.Contains("." + m + ".", StringComparison.Ordinal)))
            .ToList();
    }

    private void Snapshot(IEnumerable<string> names, Dictionary<string, Tensor> into, bool onlyNew)
    {
        foreach (string n in names)
        {
            if (onlyNew && into.ContainsKey(n)) continue;
            into[n] = Parameter(n).detach().clone();
        }
    }

    private Tensor Parameter(string name) => _model.Module.get_parameter(name)
        ?? throw new InvalidOperationException($"the model has no parameter {name}");

    /// <summary>Every replaceable linear child by its module path: (host, child name).</summary>
    private Dictionary<string, (ILinearHost Host, string Child)> Hosts()
    {
        var hosts = new Dictionary<string, (ILinearHost, string)>(StringComparer.Ordinal);
        foreach (var (hostPath, module) in _model.Module.named_modules())
        {
            if (module is not ILinearHost host) continue;
            foreach (var (child, _) in host.LinearChildren()) hosts[hostPath.Length == 0 ? child : hostPath + "." + child] = (host, child);
        }
        return hosts;
    }

    private static void Replace(Dictionary<string, (ILinearHost Host, string Child)> hosts, string path, nn.Module<Tensor, Tensor> module)
    {
        var (host, child) = hosts[path];
        host.ReplaceLinear(child, module);
    }
}
