using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// DoRA's arithmetic (PEFT <c>tuners/lora/dora.py</c>, <c>DoraLinearLayer</c>). The adapted weight is
/// W' = m ⊙ (W + s·B·A) / ‖W + s·B·A‖, the norm taken per output row (PEFT's <c>get_weight_norm</c>, dim=1);
/// m (PEFT's <c>lora_magnitude_vector</c>, one entry per output) starts at ‖W‖ so W' = W at step 0 (B = 0).
/// </summary>
public static class Dora
{
    /// <summary>‖W + s·ΔW‖ per output row, shape (out), in fp32: <paramref name="weight"/> (out, in), <paramref name="loraWeight"/> = B·A (out, in).</summary>
    public static Tensor WeightNorm(Tensor weight, Tensor loraWeight, double scaling)
    {
        using var scope = NewDisposeScope();
        using var s = scaling.ToScalar();   // held Scalars: an implicit one can be finalized under libtorch (TorchSharp#1434)
        var w = weight.to(ScalarType.Float32) + loraWeight.to(ScalarType.Float32).mul(s);
        // sqrt(Σ w·w) per row, not linalg.vector_norm: TorchSharp converts its double `ord` to a Scalar it does not hold,
        // which the GC can free while libtorch reads it ("Unknown scalar type" in linalg_vector_norm, seen in the tests).
        return w.mul(w).sum(1).sqrt().MoveToOuterDisposeScope();   // w·w, not square() (a pow with an unheld Scalar: see RmsNorm)
    }

    /// <summary>
    /// PEFT's DoRA term added to the base result: (m/‖W + s·B·A‖ − 1)·(W x) + m/‖W + s·B·A‖ · s·B(A x). The norm is of
    /// the weight with the update, detached (PEFT: "treat it as a constant", §4.3 of the paper), so the gradient reaches
    /// m directly and A, B through the direction term only. <paramref name="baseResult"/> is W x without bias
    /// (out last), <paramref name="loraResult"/> is B(A x) (unscaled).
    /// </summary>
    public static Tensor Term(Tensor magnitude, Tensor weight, Tensor a, Tensor b, double scaling, Tensor baseResult, Tensor loraResult)
    {
        using var scope = NewDisposeScope();
        Tensor norm;
        using (no_grad()) norm = WeightNorm(weight, b.matmul(a), scaling);   // (out), a constant for autograd
        var factor = (magnitude / norm).view(1, -1);                            // (1, out)
        using var one = 1.ToScalar();   // held Scalars: an implicit one can be finalized under libtorch (TorchSharp#1434)
        using var s = scaling.ToScalar();
        var result = factor.sub(one).mul(baseResult) + factor.mul(loraResult).mul(s);
        return result.MoveToOuterDisposeScope();
    }
}
