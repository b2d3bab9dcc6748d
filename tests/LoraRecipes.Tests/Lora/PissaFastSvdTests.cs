using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

/// <summary>
/// <c>lora.init: pissa_niter_N</c> (PEFT's <c>init_lora_weights="pissa_niter_N"</c>, torch's <c>svd_lowrank</c>): checked
/// against a weight built from a known spectrum, so the exact top-r singular values are known without any SVD.
/// </summary>
public class PissaFastSvdTests
{
    private const int R = 4;
    private const double Alpha = 8;   // s = 2
    private const int Out = 40, In = 24;

    /// <summary>Singular values of the test weight: a clear gap after the top four, then a slow tail.</summary>
    private static readonly float[] Spectrum = [12f, 9f, 7f, 5f, 1.5f, 1.2f, 1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f, 0.25f, 0.2f, 0.15f, 0.1f, 0.08f, 0.06f, 0.04f, 0.03f, 0.02f, 0.01f];

    /// <summary>W = U diag(Spectrum) Vᵀ with U (40 × 24) and V (24 × 24) orthonormal (QR of Gaussian matrices).</summary>
    private static Linear KnownSpectrum()
    {
        var g = new Generator(7);
        var (u, _) = linalg.qr(randn([Out, In], generator: g));
        var (v, _) = linalg.qr(randn([In, In], generator: g));
        var linear = nn.Linear(In, Out);
        using (no_grad()) linear.weight!.copy_(u.matmul(diag(tensor(Spectrum))).matmul(v.t()));
        return linear;
    }

    private static LoraLinear Fast(Linear linear, int niter, ulong seed) =>
        new(linear, R, Alpha, 0.0, false, LoraInit.Pissa, new Generator(seed), pissaNiter: niter);

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(8)]
    public void ResidualPlusScaledUpdateIsExactlyW(int niter)
    {
        var linear = KnownSpectrum();
        var w = linear.weight!.detach().clone();
        var lora = Fast(linear, niter, 42);
        var rebuilt = lora.Base.weight!.detach() + lora.Scaling * lora.B.detach().matmul(lora.A.detach());
        Assert.True((rebuilt - w).abs().max().item<float>() <= 1e-5f);
        Assert.False(lora.Base.weight!.detach().allclose(w, 1e-2, 1e-2));   // the principal part left the base
    }

    [Fact]
    public void TopRSingularValuesApproachTheExactOnesAsIterationsGrow()
    {
        var exact = tensor(Spectrum[..R]);
        double Error(int niter)
        {
            var lora = Fast(KnownSpectrum(), niter, 42);
            var sUpdate = linalg.svdvals(lora.Scaling * lora.B.detach().matmul(lora.A.detach()));
            return ((sUpdate.narrow(0, 0, R) - exact).abs() / exact).max().item<float>();
        }
        double e0 = Error(0), e2 = Error(2), e8 = Error(8);
        Assert.True(e0 > 1e-3, $"no iteration: relative error {e0}");            // a plain sketch is visibly off…
        Assert.True(e2 < e0, $"{e2} vs {e0}");                                   // …each iteration helps…
        Assert.True(e8 <= 1e-5, $"8 iterations: relative error {e8}");            // …and 8 reach float precision (gap 5 → 1.5)

        // The same with the exact SVD (init: pissa) for comparison: W's top r to float precision.
        var exactLora = new LoraLinear(KnownSpectrum(), R, Alpha, 0.0, false, LoraInit.Pissa);
        var sExact = linalg.svdvals(exactLora.Scaling * exactLora.B.detach().matmul(exactLora.A.detach()));
        Assert.True(sExact.narrow(0, 0, R).allclose(exact, 1e-5, 1e-5));
    }

    [Fact]
    public void FactorsHavePissasShapeAndBalance()
    {
        // A = diag(√(S_r/s)) Vᵀ_r and B = U_r diag(√(S_r/s)): Aᵀ-rows and B-columns orthogonal with equal squared norms S_r / s.
        var lora = Fast(KnownSpectrum(), 8, 42);
        var a = lora.A.detach();
        var b = lora.B.detach();
        Assert.Equal(new long[] { R, In }, a.shape);
        Assert.Equal(new long[] { Out, R }, b.shape);
        var expected = diag(tensor(Spectrum[..R]) / (float)lora.Scaling);
        Assert.True(a.matmul(a.t()).allclose(expected, 1e-4, 1e-4));
        Assert.True(b.t().matmul(b).allclose(expected, 1e-4, 1e-4));
    }

    [Fact]
    public void TheSketchIsDrawnFromTheRunsSeededGenerator()
    {
        var first = Fast(KnownSpectrum(), 1, 42);
        var again = Fast(KnownSpectrum(), 1, 42);
        var other = Fast(KnownSpectrum(), 1, 43);
        Assert.Equal(0f, (first.A.detach() - again.A.detach()).abs().max().item<float>());   // bit for bit
        Assert.Equal(0f, (first.B.detach() - again.B.detach()).abs().max().item<float>());
        Assert.Equal(0f, (first.Base.weight!.detach() - again.Base.weight!.detach()).abs().max().item<float>());
        Assert.False(first.A.detach().allclose(other.A.detach(), 1e-6, 1e-6));   // one iteration: the sketch still shows
    }

    [Fact]
    public void AWideWeightAndRankEqualToTheSmallSideAreHandled()
    {
        // in > out takes torch's transposed branch; r = min(in, out) = out takes the other (n ≤ q after the transpose test).
        var g = new Generator(3);
        var wide = nn.Linear(30, 6);
        using (no_grad()) wide.weight!.copy_(randn([6, 30], generator: g));
        var w = wide.weight!.detach().clone();
        var lora = new LoraLinear(wide, 6, 6, 0.0, false, LoraInit.Pissa, new Generator(1), pissaNiter: 2);
        var update = lora.Scaling * lora.B.detach().matmul(lora.A.detach());
        Assert.True(update.allclose(w, 1e-4, 1e-4));   // full rank: the update is all of W
        Assert.True((lora.Base.weight!.detach() + update - w).abs().max().item<float>() <= 1e-5f);

        var tall = nn.Linear(6, 30);
        using (no_grad()) tall.weight!.copy_(randn([30, 6], generator: g));
        var w2 = tall.weight!.detach().clone();
        var full = new LoraLinear(tall, 6, 6, 0.0, false, LoraInit.Pissa, new Generator(1), pissaNiter: 2);
        var update2 = full.Scaling * full.B.detach().matmul(full.A.detach());
        Assert.True(update2.allclose(w2, 1e-4, 1e-4));
    }
}
