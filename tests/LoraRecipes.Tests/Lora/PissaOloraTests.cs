using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

/// <summary>PiSSA and OLoRA initialisation as PEFT's pissa_init / olora_init, and the save-time conversion to a plain
/// rank-2r LoRA of the unmodified base (PEFT's path_initial_model_for_weight_conversion).</summary>
public class PissaOloraTests
{
    private const int R = 3;
    private const double Alpha = 6;   // s = 2

    private static (Linear Linear, Tensor Original) Base(int seed = 21)
    {
        manual_seed(seed);
        var linear = nn.Linear(16, 10);
        return (linear, linear.weight!.detach().clone());
    }

    [Theory]
    [InlineData(LoraInit.Pissa)]
    [InlineData(LoraInit.Olora)]
    public void ResidualPlusScaledUpdateIsExactlyW(LoraInit init)
    {
        var (linear, w) = Base();
        var x = randn(4, 16);
        var before = linear.forward(x).detach().clone();
        var lora = new LoraLinear(linear, R, Alpha, 0.0, false, init);
        var rebuilt = lora.Base.weight!.detach() + lora.Scaling * lora.B.detach().matmul(lora.A.detach());
        Assert.True(rebuilt.allclose(w, 1e-5, 1e-5));
        Assert.False(lora.Base.weight!.detach().allclose(w, 1e-3, 1e-3));   // the base weight did change
        lora.eval();
        Assert.True(lora.forward(x).allclose(before, 1e-5, 1e-5));        // step 0 computes the base model
    }

    [Fact]
    public void PissaTakesTheTopRSingularTriplets()
    {
        var (linear, w) = Base();
        var lora = new LoraLinear(linear, R, Alpha, 0.0, false, LoraInit.Pissa);
        var update = lora.Scaling * lora.B.detach().matmul(lora.A.detach());
        var sW = linalg.svdvals(w);
        var sUpdate = linalg.svdvals(update);
        Assert.True(sUpdate.narrow(0, 0, R).allclose(sW.narrow(0, 0, R), 1e-4, 1e-5));   // the top r of W…
        Assert.True(sUpdate.narrow(0, R, sUpdate.shape[0] - R).abs().max().item<float>() < 1e-4);   // …and rank r
        var sResidual = linalg.svdvals(lora.Base.weight!.detach());
        Assert.True(sResidual.narrow(0, 0, sW.shape[0] - R).allclose(sW.narrow(0, R, sW.shape[0] - R), 1e-4, 1e-5));   // W_res keeps the rest
        // A = diag(√(S_r/s)) Vᵀ_r: its rows are orthogonal with squared norms S_r / s.
        var gram = lora.A.detach().matmul(lora.A.detach().t());
        Assert.True(gram.allclose(diag(sW.narrow(0, 0, R) / lora.Scaling), 1e-4, 1e-4));
    }

    [Fact]
    public void OloraTakesQAndRFromTheQrDecomposition()
    {
        var (linear, w) = Base();
        var lora = new LoraLinear(linear, R, Alpha, 0.0, false, LoraInit.Olora);
        var b = lora.B.detach();
        var a = lora.A.detach();
        Assert.True(b.t().matmul(b).allclose(eye(R), 1e-5, 1e-5));           // B = Q[:, :r], orthonormal columns
        Assert.True(a.triu().allclose(a));                                     // A = R[:r], upper triangular
        // W = Q R: the first r columns of W are spanned by B alone: W[:, :r] = B · A[:, :r].
        Assert.True(b.matmul(a.narrow(1, 0, R)).allclose(w.narrow(1, 0, R), 1e-5, 1e-5));
    }

    [Theory]
    [InlineData(LoraInit.Pissa, false)]
    [InlineData(LoraInit.Olora, false)]
    [InlineData(LoraInit.Pissa, true)]
    public void TheSavedAdapterOnTheOriginalBaseComputesTheFineTunedLayer(LoraInit init, bool rslora)
    {
        var (linear, w) = Base();
        var bias = linear.bias!.detach().clone();
        var lora = new LoraLinear(linear, R, Alpha, 0.0, rslora, init);
        using (no_grad())   // "training" moved A and B
        {
            lora.A.add_(randn_like(lora.A) * 0.1);
            lora.B.add_(randn_like(lora.B) * 0.1);
        }
        lora.eval();
        var saved = lora.SavedTensors().ToDictionary(t => t.Name, t => t.Value);
        Assert.Equal(new long[] { 2 * R, 16 }, saved["lora_A.weight"].shape);
        Assert.Equal(new long[] { 10, 2 * R }, saved["lora_B.weight"].shape);

        // What PEFT (and our loader) builds from the converted config: r' = 2r, α' = 2α (α·√2 with rsLoRA), default init, on W.
        var fresh = nn.Linear(16, 10);
        using (no_grad()) { fresh.weight!.copy_(w); fresh.bias!.copy_(bias); }
        double alpha2 = rslora ? Alpha * Math.Sqrt(2) : 2 * Alpha;
        var plain = new LoraLinear(fresh, 2 * R, alpha2, 0.0, rslora, LoraInit.Default);
        Assert.Equal(lora.Scaling, plain.Scaling, 12);
        using (no_grad()) { plain.A.copy_(saved["lora_A.weight"]); plain.B.copy_(saved["lora_B.weight"]); }
        plain.eval();
        var x = randn(5, 16);
        Assert.True(plain.forward(x).allclose(lora.forward(x), 1e-5, 1e-5));
        plain.Merge();
        Assert.True(plain.forward(x).allclose(lora.forward(x), 1e-5, 1e-5));
    }
}
