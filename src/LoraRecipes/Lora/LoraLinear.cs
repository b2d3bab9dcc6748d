using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using LoraInit = LoraRecipes.Recipes.LoraInit;

#pragma warning disable IDE1006 // PEFT's module names: base_layer, lora_A, lora_B

namespace LoraRecipes.Lora;

/// <summary>
/// A frozen linear layer plus a low-rank update, exactly as PEFT's LoRA <c>Linear</c>:
/// h = W x + b + s · B(A(dropout(x))), with s = α / r (or α / √r with rsLoRA), A (r × in), B (out × r).
/// </summary>
public sealed class LoraLinear : Module<Tensor, Tensor>
{
    /// <summary>The prefix every trainable adapter parameter carries; freezing and saving key on it.</summary>
    public const string ParameterPrefix = "lora_";

    private readonly Linear base_layer;
    private readonly Linear lora_A;
    private readonly Linear lora_B;
    private readonly double _dropout;
    private readonly Generator? _generator;

    /// <remarks>
    /// <paramref name="generator"/> is the run's random stream for A's initialisation and dropout masks. A private
    /// generator keeps a run reproducible even when other code in the process draws from torch's global RNG.
    /// </remarks>
    public LoraLinear(Linear baseLayer, int r, double alpha, double dropout, bool useRslora, LoraInit init, Generator? generator = null)
        : base(nameof(LoraLinear))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(r, 1);
        var weight = baseLayer.weight ?? throw new ArgumentException("base layer has no weight", nameof(baseLayer));
        InFeatures = weight.shape[1];
        OutFeatures = weight.shape[0];
        Rank = r;
        Alpha = alpha;
        Scaling = useRslora ? alpha / Math.Sqrt(r) : alpha / r;
        _dropout = dropout;
        _generator = generator;
        base_layer = baseLayer;
        lora_A = Linear(InFeatures, r, hasBias: false, device: weight.device);
        lora_B = Linear(r, OutFeatures, hasBias: false, device: weight.device);
        using (no_grad())
        {
            if (init == LoraInit.Gaussian) nn.init.normal_(lora_A.weight!, 0.0, 1.0 / r, generator);
            else
            {
                // kaiming_uniform_(a=√5): gain √(2/(1+a²)) = 1/√3, bound = gain·√(3/fan_in) = 1/√in.
                double bound = 1.0 / Math.Sqrt(InFeatures);
                lora_A.weight!.uniform_(-bound, bound, generator);
            }
            nn.init.zeros_(lora_B.weight!);
        }
        RegisterComponents();
    }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }
    /// <summary>Output width.</summary>
    public long OutFeatures { get; }
    /// <summary>The rank r.</summary>
    public int Rank { get; }
    /// <summary>The α of the recipe.</summary>
    public double Alpha { get; }
    /// <summary>s: α / r, or α / √r with rsLoRA.</summary>
    public double Scaling { get; }
    /// <summary>True while B A · s is folded into the base weight.</summary>
    public bool Merged { get; private set; }

    /// <summary>The frozen layer being adapted.</summary>
    public Linear Base => base_layer;
    /// <summary>A, shape (r, in).</summary>
    public Parameter A => lora_A.weight!;
    /// <summary>B, shape (out, r).</summary>
    public Parameter B => lora_B.weight!;

    public override Tensor forward(Tensor x)
    {
        var result = base_layer.forward(x);
        if (Merged) return result;
        using var scope = NewDisposeScope();
        var input = _dropout > 0 && training ? Dropout(x) : x;
        var update = lora_B.forward(lora_A.forward(input.to(A.dtype)));   // (…, out) in fp32
        // One pass: s · update is added in fp32 and rounded once to the base dtype (no separate scale or cast pass).
        return result.add_(update, Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>Inverted dropout with the run's generator: zero with probability p, scale survivors by 1/(1−p).</summary>
    private Tensor Dropout(Tensor x)
    {
        if (_generator is null) return nn.functional.dropout(x, _dropout, true);
        var keep = empty_like(x).bernoulli_(1 - _dropout, _generator);
        return x * keep / (1 - _dropout);
    }

    /// <summary>s · B A, shape (out, in): what merging adds to W.</summary>
    public Tensor DeltaWeight()
    {
        using var scope = NewDisposeScope();
        return (B.matmul(A) * Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>Folds the update into W (W' = W + s·BA); refuses if the result is not finite, leaving W untouched.</summary>
    public void Merge()
    {
        if (Merged) return;
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var weight = base_layer.weight!;
        var merged = weight + DeltaWeight().to(weight.dtype);
        if (!merged.isfinite().all().item<bool>())
            throw new InvalidOperationException("merging this adapter would put NaN or Inf into the base weight; the adapter is broken");
        weight.copy_(merged);
        Merged = true;
    }

    /// <summary>Subtracts the update again (W = W' − s·BA), up to floating-point rounding.</summary>
    public void Unmerge()
    {
        if (!Merged) return;
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        base_layer.weight!.sub_(DeltaWeight().to(base_layer.weight!.dtype));
        Merged = false;
    }
}
