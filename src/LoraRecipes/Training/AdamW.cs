using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>
/// AdamW with decoupled weight decay, step for step the update of <c>torch.optim.AdamW</c>:
/// p ← p − lr·λ·p; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε).
/// As torch's, t counts per parameter the updates it took part in: a parameter without a gradient (frozen for now —
/// <c>method: freeze</c>'s later blocks) is skipped entirely and joins later as if added to the optimizer then.
/// </summary>
/// <remarks>
/// Written here rather than using TorchSharp's so that its whole state (m, v, t) is plain named tensors
/// a checkpoint can save and restore exactly, and decay can be off for biases and norms. State exists
/// only for the parameters given: frozen weights cost no optimizer memory.
/// </remarks>
public sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<(string Name, Parameter Param, bool Decay)> _params;
    private readonly Dictionary<string, (Tensor M, Tensor V)> _state = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _steps = new(StringComparer.Ordinal);

    /// <summary>The suffix of a parameter's own step count in <see cref="StateTensors"/>, written only where it differs from <see cref="StepCount"/>.</summary>
    public const string StepSuffix = ".step";

    public AdamW(IEnumerable<(string Name, Parameter Param)> parameters, double weightDecay, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        // No decay on biases and norm scales (1-D parameters), as HF Trainer and torchtune do.
        _params = parameters.Select(p => (p.Name, p.Param, p.Param.dim() > 1)).ToList();
        (WeightDecay, Beta1, Beta2, Eps) = (weightDecay, beta1, beta2, eps);
        foreach (var (name, p, _) in _params)
        {
            _state[name] = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
            _steps[name] = 0;
        }
    }

    public double WeightDecay { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    /// <summary>Updates taken so far (t).</summary>
    public long StepCount { get; private set; }

    /// <summary>The parameters this optimizer updates.</summary>
    public IEnumerable<Parameter> Parameters => _params.Select(p => p.Param);

    /// <summary>Applies one update with learning rate <paramref name="lr"/> from the current gradients.</summary>
    public void Step(double lr)
    {
        StepCount++;
        using var guard = no_grad();
        foreach (var (name, p, decay) in _params)
        {
            // Each p.grad read is a new wrapper of the gradient: disposed here, not left to the finalizer (which would keep
            // the gradient alive until a GC; the bench's memory check counts such tensors).
            using var g = p.grad;
            if (g is null) continue;
            long t = ++_steps[name];
            double bc1 = 1 - Math.Pow(Beta1, t), bc2 = 1 - Math.Pow(Beta2, t);
            using var scope = NewDisposeScope();
            var (m, v) = _state[name];
            // Every Scalar held by `using` until the op returns (an implicit double → Scalar can be finalized under libtorch:
            // dotnet/TorchSharp#1434).
            using var shrink = (1 - lr * WeightDecay).ToScalar();
            using var beta1 = Beta1.ToScalar();
            using var oneMinusBeta1 = (1 - Beta1).ToScalar();
            using var beta2 = Beta2.ToScalar();
            using var oneMinusBeta2 = (1 - Beta2).ToScalar();
            using var sqrtBc2 = Math.Sqrt(bc2).ToScalar();
            using var eps = Eps.ToScalar();
            using var stepSize = (-lr / bc1).ToScalar();
            if (decay && WeightDecay != 0) p.mul_(shrink);
            m.mul_(beta1).add_(g, alpha: oneMinusBeta1);
            v.mul_(beta2).addcmul_(g, g, value: oneMinusBeta2);
            var denom = v.sqrt().div_(sqrtBc2).add_(eps);
            p.addcdiv_(m, denom, value: stepSize);
        }
    }

    /// <summary>Clears the gradients of the parameters (sets them to none).</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p, _) in _params) p.grad = null;
    }

    /// <summary>A parameter's own t: the updates it took part in.</summary>
    public long StepsOf(string name) => _steps[name];

    /// <summary>
    /// Moments by parameter name (<c>&lt;name&gt;.exp_avg</c>, <c>.exp_avg_sq</c>), for checkpoints; plus <c>&lt;name&gt;.step</c>
    /// (int64 scalar) for a parameter whose own t is not <see cref="StepCount"/> (one that joined late).
    /// </summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        foreach (var (name, (m, v)) in _state)
        {
            yield return new KeyValuePair<string, Tensor>(name + ".exp_avg", m);
            yield return new KeyValuePair<string, Tensor>(name + ".exp_avg_sq", v);
            if (_steps[name] != StepCount) yield return new KeyValuePair<string, Tensor>(name + StepSuffix, tensor(new[] { _steps[name] }));
        }
    }

    /// <summary>
    /// Restores moments and step count saved by <see cref="StateTensors"/>; <paramref name="readStep"/> gives a parameter's
    /// own t where one was saved (null: it equals <paramref name="stepCount"/>).
    /// </summary>
    public void LoadState(Func<string, Tensor> read, long stepCount, Func<string, long?>? readStep = null)
    {
        using var guard = no_grad();
        foreach (var (name, (m, v)) in _state)
        {
            using var sm = read(name + ".exp_avg");
            using var sv = read(name + ".exp_avg_sq");
            m.copy_(sm);
            v.copy_(sv);
            _steps[name] = readStep?.Invoke(name + StepSuffix) ?? stepCount;
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var (m, v) in _state.Values)
        {
            m.Dispose();
            v.Dispose();
        }
    }
}
