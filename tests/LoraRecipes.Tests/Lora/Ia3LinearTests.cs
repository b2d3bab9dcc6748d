using LoraRecipes.Lora;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

/// <summary>IA3 against a hand-written forward of PEFT's IA3 Linear: feed-forward modules scale the input, the others the output.</summary>
public class Ia3LinearTests
{
    private static Ia3Linear Make(bool feedforward, bool bias = true)
    {
        manual_seed(17);
        var ia3 = new Ia3Linear(nn.Linear(12, 10, hasBias: bias), feedforward);
        using (no_grad()) ia3.Scale.copy_(rand_like(ia3.Scale) + 0.5);
        return ia3;
    }

    [Fact]
    public void StartsAtOnesWithPeftsShapes()
    {
        var ff = new Ia3Linear(nn.Linear(12, 10), isFeedforward: true);
        var other = new Ia3Linear(nn.Linear(12, 10), isFeedforward: false);
        Assert.Equal(new long[] { 1, 12 }, ff.Scale.shape);      // (1, in)
        Assert.Equal(new long[] { 10, 1 }, other.Scale.shape);   // (out, 1)
        Assert.Equal(1f, ff.Scale.min().item<float>());
        Assert.Equal(1f, other.Scale.max().item<float>());
        var x = randn(3, 12);
        Assert.True(ff.forward(x).allclose(ff.Base.forward(x)));
        Assert.Equal(12, ff.TrainableParameterCount);
        Assert.Equal(10, other.TrainableParameterCount);
        Assert.Equal("ia3_l", Assert.Single(ff.SavedTensors()).Name);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void ForwardMatchesPeftsFormulaAndMergedEqualsUnmerged(bool feedforward, bool bias)
    {
        var ia3 = Make(feedforward, bias);
        var w = ia3.Base.weight!.detach().clone();
        var b = ia3.Base.bias?.detach().clone();
        var l = ia3.Scale.detach().flatten();
        var x = randn(2, 4, 12);
        // PEFT: feed-forward h = W (x ⊙ l) + b; otherwise h = (W x + b) ⊙ l.
        var expected = feedforward
            ? (x * l).matmul(w.t()) + (b ?? zeros(10))
            : (x.matmul(w.t()) + (b ?? zeros(10))) * l;
        var unmerged = ia3.forward(x);
        Assert.True(unmerged.allclose(expected, 1e-5, 1e-5));
        ia3.Merge();
        Assert.True(ia3.forward(x).allclose(unmerged, 1e-5, 1e-5));
        ia3.Unmerge();
        Assert.True(ia3.Base.weight!.detach().allclose(w, 1e-5, 1e-5));
        Assert.True(ia3.forward(x).allclose(unmerged, 1e-5, 1e-5));
    }

    [Fact]
    public void OnlyTheScalingVectorTrains()
    {
        var model = nn.Sequential(("proj", nn.Linear(12, 10)));
        var ia3 = Make(feedforward: false);
        var x = randn(3, 12);
        ia3.forward(x).sum().backward();
        Assert.NotNull(ia3.Scale.grad);
        Assert.True(LoraInjector.IsAdapterParameter("layers.0.mlp.down_proj.ia3_l"));
        Assert.False(LoraInjector.IsAdapterParameter("layers.0.mlp.down_proj.base_layer.weight"));
        model.Dispose();
    }
}
