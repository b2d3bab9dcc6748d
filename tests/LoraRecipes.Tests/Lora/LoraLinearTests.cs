using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

public class LoraLinearTests
{
    private static LoraLinear Make(int r = 4, double alpha = 8, bool rslora = false, double dropout = 0.0)
    {
        manual_seed(3);
        var linear = nn.Linear(12, 10);
        var lora = new LoraLinear(linear, r, alpha, dropout, rslora, LoraInit.Default);
        lora.eval();
        return lora;
    }

    private static void Randomize(LoraLinear lora)
    {
        using var guard = no_grad();
        lora.B.copy_(randn_like(lora.B));
    }

    [Fact]
    public void ZeroBGivesExactlyTheBaseOutput()
    {
        var lora = Make();
        var x = randn(5, 12);
        Assert.True(TensorAssert.Same(lora.forward(x), lora.Base.forward(x)));
        Assert.True(lora.B.abs().sum().item<float>() == 0f);
        Assert.True(lora.A.abs().sum().item<float>() > 0f);
    }

    [Theory]
    [InlineData(4, 8.0, false, 2.0)]
    [InlineData(4, 8.0, true, 4.0)]
    [InlineData(16, 32.0, false, 2.0)]
    [InlineData(16, 32.0, true, 8.0)]
    public void OutputIsBasePlusScaledLowRankUpdate(int r, double alpha, bool rslora, double expectedScale)
    {
        var lora = Make(r, alpha, rslora);
        Randomize(lora);
        Assert.Equal(expectedScale, lora.Scaling, 12);
        Assert.Equal(new long[] { r, 12 }, lora.A.shape);
        Assert.Equal(new long[] { 10, r }, lora.B.shape);

        var x = randn(3, 12);
        // Reference written out: W x + b + s · B (A x), with explicit matrix products.
        var expected = x.matmul(lora.Base.weight!.t()) + lora.Base.bias! + expectedScale * x.matmul(lora.A.t()).matmul(lora.B.t());
        Assert.True(lora.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void MergedOutputEqualsUnmergedAndUnmergeRestoresTheWeight()
    {
        var lora = Make();
        Randomize(lora);
        var x = randn(6, 12);
        var before = lora.Base.weight!.clone();
        var unmerged = lora.forward(x);

        lora.Merge();
        Assert.True(lora.Merged);
        Assert.True(lora.forward(x).allclose(unmerged, rtol: 1e-5, atol: 1e-5));
        Assert.True(lora.Base.weight!.allclose(before + lora.DeltaWeight(), atol: 1e-6));

        lora.Unmerge();
        Assert.True(lora.Base.weight!.allclose(before, atol: 1e-6));
    }

    [Fact]
    public void MergeRefusesNonFiniteUpdatesAndLeavesTheWeightUntouched()
    {
        var lora = Make();
        using (no_grad()) lora.B.fill_(float.NaN);
        var before = lora.Base.weight!.clone();
        Assert.Throws<InvalidOperationException>(() => lora.Merge());
        Assert.False(lora.Merged);
        Assert.True(TensorAssert.Same(lora.Base.weight!, before));
    }

    [Fact]
    public void DropoutAppliesOnlyInTraining()
    {
        var lora = Make(dropout: 0.5);
        Randomize(lora);
        var x = randn(64, 12);
        var eval1 = lora.forward(x);
        Assert.True(TensorAssert.Same(eval1, lora.forward(x)));
        lora.train();
        manual_seed(1);
        var train1 = lora.forward(x);
        Assert.False(train1.allclose(eval1));
        // Dropout touches only the LoRA branch: the base part is unchanged.
        lora.eval();
    }

    [Fact]
    public void GaussianInitHasStandardDeviationOneOverR()
    {
        manual_seed(5);
        var lora = new LoraLinear(nn.Linear(512, 64), 8, 16, 0, false, LoraInit.Gaussian);
        double std = lora.A.std().item<float>();
        Assert.InRange(std, 0.125 * 0.95, 0.125 * 1.05);
        Assert.Equal(0f, lora.B.abs().sum().item<float>());
    }

    [Fact]
    public void DefaultInitIsKaimingUniformWithBoundOneOverSqrtInAndTheGeneratorMakesItReproducible()
    {
        using var g1 = new Generator(11);
        using var g2 = new Generator(11);
        var baseA = nn.Linear(400, 8);
        var baseB = nn.Linear(400, 8);
        using (no_grad()) { baseB.weight!.copy_(baseA.weight!); baseB.bias!.copy_(baseA.bias!); }
        var a = new LoraLinear(baseA, 16, 16, 0.1, false, LoraInit.Default, g1);
        var b = new LoraLinear(baseB, 16, 16, 0.1, false, LoraInit.Default, g2);
        Assert.True(TensorAssert.Same(a.A, b.A));
        double bound = 1.0 / Math.Sqrt(400);
        Assert.True(a.A.abs().max().item<float>() <= bound);
        Assert.InRange(a.A.std().item<float>(), 0.95 * bound / Math.Sqrt(3), 1.05 * bound / Math.Sqrt(3));   // U(−b, b) has σ = b/√3

        // Dropout masks come from the same stream: identical in both, and drawn only in training.
        using (no_grad()) { a.B.fill_(1); b.B.fill_(1); }
        a.train();
        b.train();
        var x = ones(4, 400);
        var first = a.forward(x);
        Assert.True(TensorAssert.Same(first, b.forward(x)));
        Assert.False(TensorAssert.Same(first, a.forward(x)));   // a fresh mask each call
    }
}
