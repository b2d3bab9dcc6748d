using TorchSharp;
using TorchSharp.Modules;
using LoraRecipes.Recipes;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // saved module names: base_layer, adapter_down, adapter_up

namespace LoraRecipes.Lora;

/// <summary>
/// A frozen output projection followed by a bottleneck adapter with a residual (Houlsby et al. 2019; Pfeiffer et al.
/// 2020; the adapters library's <c>Adapter</c> module): y = W x + b, h = y + dropout(up(act(down(y)))), with
/// down (m × d) + bias (m) and up (d × m) + bias (d), m the bottleneck width and d the sub-layer's output width.
/// The adapter sits before the sub-layer's residual sum and layer norm, where the adapters library puts it. With the
/// default init up is zero, so the adapted model equals the base model at step 0. Not mergeable: act is not linear.
/// </summary>
public sealed class BottleneckLinear : Module<Tensor, Tensor>, IAdapterLayer
{
    /// <summary>The prefix the trainable parameters carry; freezing and saving key on it.</summary>
    public const string ParameterPrefix = "adapter_";

    /// <summary>The <c>peft_type</c> written to adapter_config.json. PEFT has no such type: PEFT cannot load it.</summary>
    public const string Type = "BOTTLENECK_ADAPTER";

    private readonly Linear base_layer;
    private readonly Linear adapter_down;
    private readonly Linear adapter_up;
    private readonly double _dropout;
    private readonly Generator? _generator;

    public BottleneckLinear(Linear baseLayer, int bottleneckSize, BottleneckActivation activation, BottleneckInit init = BottleneckInit.Default,
        double dropout = 0, Generator? generator = null) : base(nameof(BottleneckLinear))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bottleneckSize, 1);
        var weight = baseLayer.weight ?? throw new ArgumentException("base layer has no weight", nameof(baseLayer));
        Hidden = weight.shape[0];
        BottleneckSize = bottleneckSize;
        Activation = activation;
        _dropout = dropout;
        _generator = generator;
        base_layer = baseLayer;
        adapter_down = Linear(Hidden, bottleneckSize, hasBias: true, device: weight.device);   // (m, d)
        adapter_up = Linear(bottleneckSize, Hidden, hasBias: true, device: weight.device);     // (d, m)
        using (no_grad())
        {
            if (init == BottleneckInit.Bert)
            {
                // adapters' init_bert_weights: N(0, 0.02) weights, zero biases.
                adapter_down.weight!.normal_(0.0, 0.02, generator);   // Tensor.normal_: nn.init.normal_ ignores the generator
                adapter_up.weight!.normal_(0.0, 0.02, generator);
            }
            else
            {
                // adapters' mam_adapter init: kaiming_uniform_(a=√5) on down (bound 1/√d), zeros on up.
                double bound = 1.0 / Math.Sqrt(Hidden);
                adapter_down.weight!.uniform_(-bound, bound, generator);
                nn.init.zeros_(adapter_up.weight!);
            }
            nn.init.zeros_(adapter_down.bias!);
            nn.init.zeros_(adapter_up.bias!);
        }
        RegisterComponents();
    }

    /// <summary>d: the wrapped layer's output width (the model's hidden size).</summary>
    public long Hidden { get; }
    /// <summary>m: the bottleneck width.</summary>
    public int BottleneckSize { get; }
    /// <summary>The non-linearity between down and up.</summary>
    public BottleneckActivation Activation { get; }
    /// <summary>down: weight (m, d), bias (m).</summary>
    public Linear Down => adapter_down;
    /// <summary>up: weight (d, m), bias (d).</summary>
    public Linear Up => adapter_up;
    /// <inheritdoc/>
    public Linear Base => base_layer;
    /// <inheritdoc/>
    public bool Merged => false;
    /// <inheritdoc/>
    public string PeftType => Type;
    /// <inheritdoc/>
    public long TrainableParameterCount => 2 * Hidden * BottleneckSize + BottleneckSize + Hidden;

    public override Tensor forward(Tensor x)
    {
        var y = base_layer.forward(x);   // (…, d)
        using var scope = NewDisposeScope();
        var h = y.to(adapter_down.weight!.dtype);
        var update = adapter_up.forward(Apply(Activation, adapter_down.forward(h)));   // (…, d) fp32
        if (_dropout > 0 && training) update = Dropout(update);
        return (y + update.to(y.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>The activation by its recipe name: relu, gelu (exact), swish (x·σ(x)), tanh.</summary>
    public static Tensor Apply(BottleneckActivation activation, Tensor x) => activation switch
    {
        BottleneckActivation.Relu => nn.functional.relu(x),
        BottleneckActivation.Gelu => nn.functional.gelu(x),
        BottleneckActivation.Swish => nn.functional.silu(x),
        BottleneckActivation.Tanh => x.tanh(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };

    /// <summary>Inverted dropout with the run's generator (as <see cref="LoraLinear"/>).</summary>
    private Tensor Dropout(Tensor x)
    {
        if (_generator is null) return nn.functional.dropout(x, _dropout, true);
        var keep = empty_like(x).bernoulli_(1 - _dropout, _generator);
        return x * keep / (1 - _dropout);
    }

    /// <summary>Refused: up(act(down(y))) is not a linear function of x, so no weight change reproduces it.</summary>
    public void Merge() => throw new NotSupportedException(NotMergeable);

    /// <summary>Nothing to undo: a bottleneck adapter is never merged.</summary>
    public void Unmerge() { }

    /// <summary>The refusal's wording, shared by <c>merge</c>, the ONNX export and the runtime.</summary>
    public const string NotMergeable = "a bottleneck adapter cannot be merged into the base weights: up(act(down(h))) is not linear in the input, " +
        "so no weight change reproduces it. Serve it unmerged (dotnet lora generate/eval, or LoraModel), or train method: lora for a mergeable adapter.";

    /// <inheritdoc/>
    public IEnumerable<(string Name, Tensor Value)> SavedTensors()
    {
        foreach (var (name, target) in LoadTargets()) yield return (name, target.detach().cpu().to(ScalarType.Float32).contiguous());
    }

    /// <inheritdoc/>
    public IEnumerable<(string Name, Tensor Target)> LoadTargets()
    {
        yield return ("adapter_down.weight", adapter_down.weight!);
        yield return ("adapter_down.bias", adapter_down.bias!);
        yield return ("adapter_up.weight", adapter_up.weight!);
        yield return ("adapter_up.bias", adapter_up.bias!);
    }
}
