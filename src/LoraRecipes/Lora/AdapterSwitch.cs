using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // PEFT's module name: base_layer

namespace LoraRecipes.Lora;

/// <summary>
/// Which of several adapters over one base runs: one object shared by every <see cref="AdapterSwitch"/> of a model.
/// Null means the base model alone (PEFT's <c>disable_adapter()</c>). The owner writes it only while no forward runs
/// (the runtime holds one lock around selection and forward).
/// </summary>
public sealed class AdapterSelection
{
    /// <summary>The adapter whose layers run; null: none (the base model).</summary>
    public string? Active { get; set; }
}

/// <summary>
/// One frozen linear layer with several named adapters over it, for serving many adapters from one base (PEFT keeps
/// <c>lora_A[adapter_name]</c> inside one <c>LoraLayer</c> and routes by <c>active_adapters</c>). Here each adapter is its
/// own <see cref="IAdapterLayer"/> (LoRA, DoRA, IA3…) wrapping the very same <c>Linear</c>, so the base weight is
/// held once and an adapter's forward is exactly its single-adapter forward: h = layer_active(x), or W x + b when no
/// adapter is active or the active one does not target this module.
/// </summary>
public sealed class AdapterSwitch : Module<Tensor, Tensor>
{
    private readonly Linear base_layer;
    private readonly Dictionary<string, Module<Tensor, Tensor>> _adapters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IAdapterLayer> _layers = new(StringComparer.Ordinal);
    private readonly AdapterSelection _selection;

    public AdapterSwitch(Linear baseLayer, AdapterSelection selection) : base(nameof(AdapterSwitch))
    {
        base_layer = baseLayer;
        _selection = selection;
        register_module("base_layer", baseLayer);
    }

    /// <summary>The frozen layer every adapter here wraps.</summary>
    public Linear Base => base_layer;

    /// <summary>The adapters' layers by adapter name.</summary>
    public IReadOnlyDictionary<string, IAdapterLayer> Layers => _layers;

    /// <summary>Adds <paramref name="layer"/> (built over <see cref="Base"/>) as adapter <paramref name="name"/>.</summary>
    public void Add(string name, IAdapterLayer layer)
    {
        if (!ReferenceEquals(layer.Base, base_layer)) throw new ArgumentException("the adapter layer wraps another linear layer", nameof(layer));
        var module = (Module<Tensor, Tensor>)layer;
        _adapters.Add(name, module);
        _layers.Add(name, layer);
        // Registered under a position, not the name: adapter names may hold '.', which module paths reserve.
        register_module($"adapter_{_adapters.Count - 1}", module);
    }

    /// <summary>
    /// A switch over the same base and selection with every adapter here but <paramref name="name"/> (same layer objects,
    /// so they compute what they computed); null when none would be left. TorchSharp cannot unregister a submodule, so
    /// removal builds a new switch and the host swaps it in (<c>Runtime.AdapterSet.Remove</c>).
    /// </summary>
    public AdapterSwitch? Without(string name)
    {
        if (!_layers.ContainsKey(name)) throw new ArgumentException($"no adapter named '{name}' wraps this layer", nameof(name));
        if (_layers.Count == 1) return null;
        var rest = new AdapterSwitch(base_layer, _selection);
        foreach (var (other, layer) in _layers)
            if (other != name) rest.Add(other, layer);
        return rest;
    }

    public override Tensor forward(Tensor x) =>
        _selection.Active is { } name && _adapters.TryGetValue(name, out var adapter) ? adapter.forward(x) : base_layer.forward(x);
}
