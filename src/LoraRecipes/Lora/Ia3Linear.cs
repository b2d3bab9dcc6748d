using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // PEFT's module names: base_layer, ia3_l

namespace LoraRecipes.Lora;

/// <summary>
/// A frozen linear layer with a learned scaling vector, exactly as PEFT's IA3 <c>Linear</c> (<c>tuners/ia3/layer.py</c>):
/// a feed-forward module scales its input, h = W (l ⊙ x) + b with l shaped (1, in); any other module scales its output,
/// h = l ⊙ (W x + b) with l shaped (out, 1) (PEFT keeps these shapes on disk as <c>ia3_l</c>). l starts at ones, so
/// the adapted model equals the base model at step 0.
/// </summary>
public sealed class Ia3Linear : Module<Tensor, Tensor>, IAdapterLayer
{
    /// <summary>The prefix the trainable vector carries; freezing and saving key on it.</summary>
    public const string ParameterPrefix = "ia3_";

    private readonly Linear base_layer;
    private readonly Parameter ia3_l;

    public Ia3Linear(Linear baseLayer, bool isFeedforward) : base(nameof(Ia3Linear))
    {
        var weight = baseLayer.weight ?? throw new ArgumentException("base layer has no weight", nameof(baseLayer));
        InFeatures = weight.shape[1];
        OutFeatures = weight.shape[0];
        IsFeedforward = isFeedforward;
        base_layer = baseLayer;
        // PEFT update_layer + reset_ia3_parameters: (1, in) for feed-forward, (out, 1) otherwise; fp32 ones.
        ia3_l = new Parameter(isFeedforward ? ones(1, InFeatures, device: weight.device) : ones(OutFeatures, 1, device: weight.device));
        RegisterComponents();
    }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }
    /// <summary>Output width.</summary>
    public long OutFeatures { get; }
    /// <summary>True when the input is scaled (PEFT's <c>is_feedforward</c>).</summary>
    public bool IsFeedforward { get; }
    /// <summary>The scaling vector l: (1, in) for feed-forward modules, (out, 1) otherwise.</summary>
    public Parameter Scale => ia3_l;
    /// <inheritdoc/>
    public Linear Base => base_layer;
    /// <inheritdoc/>
    public bool Merged { get; private set; }
    /// <inheritdoc/>
    public string PeftType => "IA3";
    /// <inheritdoc/>
    public long TrainableParameterCount => ia3_l.numel();

    public override Tensor forward(Tensor x)
    {
        if (Merged) return base_layer.forward(x);
        using var scope = NewDisposeScope();
        var scale = ia3_l.flatten();   // (in) or (out)
        var weight = base_layer.weight!;
        var result = IsFeedforward
            ? base_layer.forward((x.to(scale.dtype) * scale).to(weight.dtype))
            : (base_layer.forward(x).to(scale.dtype) * scale).to(x.dtype);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// PEFT's merge: W' = W ⊙ l (l broadcast over rows for feed-forward — column j of W times l_j — and over columns
    /// otherwise — row i times l_i); for an output-scaled module the bias is scaled too (b' = l ⊙ b), so the merged layer
    /// computes exactly what the unmerged one does.
    /// </summary>
    public void Merge()
    {
        if (Merged) return;
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var weight = base_layer.weight!;
        var merged = (weight.to(ScalarType.Float32) * ia3_l).to(weight.dtype);   // (out, in) ⊙ (1, in) | (out, 1)
        if (!merged.isfinite().all().item<bool>())
            throw new InvalidOperationException("merging this adapter would put NaN or Inf into the base weight; the adapter is broken");
        weight.copy_(merged);
        if (!IsFeedforward && base_layer.bias is { } bias)
            bias.copy_((bias.to(ScalarType.Float32) * ia3_l.flatten()).to(bias.dtype));
        Merged = true;
    }

    /// <summary>PEFT's unmerge: divides by l (+1e-8 against division by zero); inexact where l is near zero, as PEFT warns.</summary>
    public void Unmerge()
    {
        if (!Merged) return;
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var weight = base_layer.weight!;
        weight.copy_((weight.to(ScalarType.Float32) / (ia3_l + 1e-8)).to(weight.dtype));
        if (!IsFeedforward && base_layer.bias is { } bias)
            bias.copy_((bias.to(ScalarType.Float32) / (ia3_l.flatten() + 1e-8)).to(bias.dtype));
        Merged = false;
    }

    /// <inheritdoc/>
    public IEnumerable<(string Name, Tensor Value)> SavedTensors()
    {
        yield return ("ia3_l", ia3_l.detach().cpu().to(ScalarType.Float32).contiguous());
    }

    /// <inheritdoc/>
    public IEnumerable<(string Name, Tensor Target)> LoadTargets()
    {
        yield return ("ia3_l", ia3_l);
    }
}
