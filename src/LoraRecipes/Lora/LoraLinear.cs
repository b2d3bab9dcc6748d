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
/// With DoRA (<see cref="UseDora"/>) the update is PEFT's <see cref="Dora"/> term instead; with PiSSA/OLoRA
/// initialisation (<see cref="LoraInitialization"/>) the base weight holds the residual W − s·B₀A₀ while training.
/// </summary>
public sealed class LoraLinear : Module<Tensor, Tensor>, IAdapterLayer
{
    /// <summary>The prefix every trainable adapter parameter carries; freezing and saving key on it.</summary>
    public const string ParameterPrefix = "lora_";

    private readonly Linear base_layer;
    private readonly Linear lora_A;
    private readonly Linear lora_B;
    private readonly Parameter? lora_magnitude_vector;
    private readonly InitialFactors? _initial;
    private readonly double _dropout;
    private readonly Generator? _generator;
    // Scalars held for the module's life: an implicitly converted double is left to the GC, whose finalizer can free it
    // while libtorch still reads it (dotnet/TorchSharp#1434; seen here as "Unknown scalar type").
    private readonly Scalar _scaling, _keep;

    /// <remarks>
    /// <paramref name="generator"/> is the run's random stream for A's initialisation and dropout masks. A private
    /// generator keeps a run reproducible even when other code in the process draws from torch's global RNG.
    /// </remarks>
    /// <remarks><paramref name="useDora"/>: DoRA adds <c>lora_magnitude_vector</c> (out), initialised to the row norms of W + s·B·A.</remarks>
    /// <remarks><paramref name="pissaNiter"/>: with <see cref="LoraInit.Pissa"/>, PEFT's fast SVD (<c>pissa_niter_N</c>, N subspace iterations); null: the exact SVD.</remarks>
    public LoraLinear(Linear baseLayer, int r, double alpha, double dropout, bool useRslora, LoraInit init, Generator? generator = null, bool useDora = false, int? pissaNiter = null)
        : base(nameof(LoraLinear))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(r, 1);
        var weight = baseLayer.weight ?? throw new ArgumentException("base layer has no weight", nameof(baseLayer));
        InFeatures = weight.shape[1];
        OutFeatures = weight.shape[0];
        Rank = r;
        Alpha = alpha;
        Scaling = useRslora ? alpha / Math.Sqrt(r) : alpha / r;
        Init = init;
        _dropout = dropout;
        _generator = generator;
        _scaling = Scaling.ToScalar();
        _keep = (1 - dropout).ToScalar();
        base_layer = baseLayer;
        lora_A = Linear(InFeatures, r, hasBias: false, device: weight.device);
        lora_B = Linear(r, OutFeatures, hasBias: false, device: weight.device);
        using (no_grad())
        {
            if (init is LoraInit.Pissa or LoraInit.Olora)
            {
                if (r > Math.Min(InFeatures, OutFeatures))
                    throw new ArgumentOutOfRangeException(nameof(r), $"{init} needs r <= min(in, out) = {Math.Min(InFeatures, OutFeatures)}");
                // PEFT pissa_init / olora_init: A, B take W's principal part; the base keeps W_res = W − s·B·A (in its dtype).
                var (a0, b0) = init != LoraInit.Pissa ? LoraInitialization.Olora(weight, r)
                    : pissaNiter is { } niter ? LoraInitialization.PissaLowRank(weight, r, Scaling, niter, generator)
                    : LoraInitialization.Pissa(weight, r, Scaling);
                using (a0) using (b0)
                {
                    lora_A.weight!.copy_(a0);
                    lora_B.weight!.copy_(b0);
                    using var residual = weight.to(ScalarType.Float32) - b0.matmul(a0) * Scaling;
                    weight.copy_(residual.to(weight.dtype));
                    _initial = new InitialFactors(a0.cpu().clone(), b0.cpu().clone());
                }
            }
            else if (init == LoraInit.Gaussian) lora_A.weight!.normal_(0.0, 1.0 / r, generator);   // Tensor.normal_: nn.init.normal_ ignores the generator
            else
            {
                // kaiming_uniform_(a=√5): gain √(2/(1+a²)) = 1/√3, bound = gain·√(3/fan_in) = 1/√in.
                double bound = 1.0 / Math.Sqrt(InFeatures);
                lora_A.weight!.uniform_(-bound, bound, generator);
            }
            if (init is not (LoraInit.Pissa or LoraInit.Olora)) nn.init.zeros_(lora_B.weight!);
            if (useDora)
            {
                // PEFT DoraLinearLayer.update_layer: m = ‖W + s·B·A‖ per output row (fp32, trainable).
                using var norm = Dora.WeightNorm(weight, lora_B.weight!.matmul(lora_A.weight!), Scaling);
                lora_magnitude_vector = new Parameter(norm.clone());
            }
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
    /// <summary>The initialisation (PiSSA/OLoRA changed the base weight; see <see cref="SavedTensors"/>).</summary>
    public LoraInit Init { get; }
    /// <summary>True for DoRA (a magnitude vector per output row).</summary>
    public bool UseDora => lora_magnitude_vector is not null;
    /// <summary>DoRA's magnitude m, shape (out); null without DoRA.</summary>
    public Parameter? Magnitude => lora_magnitude_vector;

    /// <inheritdoc/>
    public string PeftType => "LORA";

    /// <inheritdoc/>
    public long TrainableParameterCount => A.numel() + B.numel() + (lora_magnitude_vector?.numel() ?? 0);

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
        bool dropping = _dropout > 0 && training;
        var input = dropping ? Dropout(x) : x;
        var update = lora_B.forward(lora_A.forward(input.to(A.dtype)));   // (…, out) in fp32
        if (lora_magnitude_vector is not null)
        {
            // PEFT Linear.forward with DoRA: without dropout the base result is reused (bias removed); with dropout
            // it is recomputed from the dropped input, W x_drop without bias.
            var weight = base_layer.weight!;
            var baseResult = dropping
                ? nn.functional.linear(input.to(weight.dtype), weight).to(A.dtype)
                : (base_layer.bias is { } bias ? result - bias : result).to(A.dtype);
            var term = Dora.Term(lora_magnitude_vector, weight, A, B, Scaling, baseResult, update);
            // Out of place: without bias baseResult may be result itself, which autograd keeps for the backward pass.
            return (result + term.to(result.dtype)).MoveToOuterDisposeScope();
        }
        // One pass: s · update is added in fp32 and rounded once to the base dtype (no separate scale or cast pass).
        return result.add_(update, _scaling).MoveToOuterDisposeScope();
    }

    /// <summary>Inverted dropout with the run's generator: zero with probability p, scale survivors by 1/(1−p).</summary>
    private Tensor Dropout(Tensor x)
    {
        if (_generator is null) return nn.functional.dropout(x, _dropout, true);
        var keep = empty_like(x).bernoulli_(1 - _dropout, _generator);
        return x.mul(keep).div_(_keep);   // x · keep / (1 − p)
    }

    /// <summary>s · B A, shape (out, in): what merging adds to W.</summary>
    public Tensor DeltaWeight()
    {
        using var scope = NewDisposeScope();
        return (B.matmul(A) * Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Folds the update into W: W' = W + s·BA; with DoRA (PEFT's merge) W' = m/‖W + s·BA‖ ⊙ (W + s·BA), the norm per
    /// output row. Refuses if the result is not finite, leaving W untouched.
    /// </summary>
    public void Merge()
    {
        if (Merged) return;
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var weight = base_layer.weight!;
        var merged = MergedWeight().to(weight.dtype);
        if (!merged.isfinite().all().item<bool>())
            throw new InvalidOperationException("merging this adapter would put NaN or Inf into the base weight; the adapter is broken");
        weight.copy_(merged);
        Merged = true;
    }

    /// <summary>Subtracts the update again (W = W' − s·BA; DoRA: W = W'·‖…‖/m − s·BA), up to floating-point rounding.</summary>
    public void Unmerge()
    {
        if (!Merged) return;
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var weight = base_layer.weight!;
        var restored = weight.to(ScalarType.Float32);
        if (lora_magnitude_vector is not null) restored = restored / _doraFactor!.view(-1, 1);
        weight.copy_((restored - DeltaWeight()).to(weight.dtype));
        _doraFactor?.Dispose();
        _doraFactor = null;
        Merged = false;
    }

    private Tensor? _doraFactor;

    /// <summary>W + s·BA, or DoRA's m/‖W + s·BA‖ ⊙ (W + s·BA), in fp32, shape (out, in).</summary>
    private Tensor MergedWeight()
    {
        using var scope = NewDisposeScope();
        var sum = base_layer.weight!.to(ScalarType.Float32) + DeltaWeight();
        if (lora_magnitude_vector is null) return sum.MoveToOuterDisposeScope();
        var factor = lora_magnitude_vector / sum.mul(sum).sum(1).sqrt();   // (out); ‖·‖ per row as Dora.WeightNorm (no linalg.vector_norm: see there)
        _doraFactor?.Dispose();
        _doraFactor = factor.detach().clone().DetachFromDisposeScope();
        return (factor.view(-1, 1) * sum).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    /// <remarks>
    /// PiSSA/OLoRA: trained against W_res = W − s·B₀A₀, the layer computes W_res + s·BA = W + s·(BA − B₀A₀). Saved as PEFT's
    /// <c>save_pretrained(path_initial_model_for_weight_conversion=…)</c> does, a plain LoRA of the unmodified base at rank
    /// 2r: A' = [A; A₀] (2r × in), B' = [B, −B₀] (out × 2r), with α doubled (α·√2 with rsLoRA) so the scale is unchanged.
    /// </remarks>
    public IEnumerable<(string Name, Tensor Value)> SavedTensors()
    {
        var a = A.detach().cpu().to(ScalarType.Float32);
        var b = B.detach().cpu().to(ScalarType.Float32);
        if (_initial is { } initial)
        {
            a = cat([a, initial.A], 0);
            b = cat([b, -initial.B], 1);
        }
        yield return ("lora_A.weight", a.contiguous());
        yield return ("lora_B.weight", b.contiguous());
        if (lora_magnitude_vector is not null)
            yield return ("lora_magnitude_vector.weight", lora_magnitude_vector.detach().cpu().to(ScalarType.Float32).contiguous());
    }

    /// <inheritdoc/>
    public IEnumerable<(string Name, Tensor Target)> LoadTargets()
    {
        yield return ("lora_A.weight", A);
        yield return ("lora_B.weight", B);
        if (lora_magnitude_vector is not null) yield return ("lora_magnitude_vector.weight", lora_magnitude_vector);
    }

    /// <summary>A₀ and B₀ of a PiSSA/OLoRA initialisation, kept (outside the module's parameters and buffers) for the conversion on save.</summary>
    private sealed record InitialFactors(Tensor A, Tensor B);
}
