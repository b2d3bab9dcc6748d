using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>Root-mean-square layer norm as HF's LlamaRMSNorm: statistics in fp32, scale in the input dtype.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // HF parameter name
    private readonly Parameter weight;
#pragma warning restore IDE1006
    // A Scalar the module holds: an implicitly converted one (`t + 1e-5`, `t.pow(2)`) is left to the GC in TorchSharp
    // 0.107, and its finalizer can free it while libtorch still reads it ("Unknown scalar type"; dotnet/TorchSharp#1434).
    private readonly Scalar _eps;

    public RmsNorm(int size, double eps) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size));
        _eps = eps.ToScalar();
        RegisterComponents();
    }

    /// <summary>The learned scale (length hidden_size).</summary>
    public Parameter Weight => weight;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xf = x.to(ScalarType.Float32);                           // (…, H)
        // x·x, not square(): TorchSharp's square() is pow(2) with a Scalar it does not keep alive, which the GC can free
        // mid-call ("INTERNAL ASSERT FAILED at Scalar.h" in pow_Tensor_Scalar, seen in CI); libtorch computes pow 2 as x·x.
        var variance = xf.mul(xf).mean(new long[] { -1 }, keepdim: true);   // (…, 1)
        var normed = (xf * rsqrt(variance.add(_eps))).to(x.dtype);
        return (weight.to(x.dtype) * normed).MoveToOuterDisposeScope();
    }
}
