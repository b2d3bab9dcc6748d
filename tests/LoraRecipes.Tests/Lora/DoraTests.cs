using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

/// <summary>DoRA against a hand-written forward of PEFT's formula (dora.py): h = b + m / ‖W + s·BA‖_row ⊙ (W + s·BA) x,
/// the norm per output row and detached; gradients of m, A, B against autograd of that reference.</summary>
public class DoraTests
{
    private static LoraLinear Make(bool bias = true)
    {
        manual_seed(11);
        var linear = nn.Linear(12, 10, hasBias: bias);
        var lora = new LoraLinear(linear, 4, 8, 0.0, false, LoraInit.Default, useDora: true);
        using (no_grad())
        {
            lora.B.copy_(randn_like(lora.B) * 0.3);
            lora.Magnitude!.mul_(rand_like(lora.Magnitude!) + 0.5);
        }
        return lora;
    }

    /// <summary>The reference: the paper's W' = m ⊙ V/‖V‖ with V = W + s·BA, norm detached, plus the bias.</summary>
    private static Tensor Reference(Tensor x, Tensor w, Tensor? b, Tensor a, Tensor bm, Tensor m, double s)
    {
        var v = w + s * bm.matmul(a);                                  // (out, in)
        var norm = v.detach().pow(2).sum(1).sqrt();                     // (out), a constant
        var adapted = (m / norm).unsqueeze(1) * v;                      // (out, in)
        var h = x.matmul(adapted.t());
        return b is null ? h : h + b;
    }

    [Fact]
    public void MagnitudeStartsAtTheRowNormsOfWSoStepZeroIsTheBaseModel()
    {
        manual_seed(5);
        var linear = nn.Linear(12, 10);
        var expected = linear.weight!.detach().pow(2).sum(1).sqrt();
        var lora = new LoraLinear(linear, 4, 8, 0.0, false, LoraInit.Default, useDora: true);
        Assert.True(lora.Magnitude!.detach().allclose(expected, 1e-6, 1e-6));
        var x = randn(3, 12);
        Assert.True(lora.forward(x).allclose(linear.forward(x), 1e-5, 1e-5));
        Assert.Equal(4 * 12 + 10 * 4 + 10, lora.TrainableParameterCount);   // PEFT: A + B + out (the magnitude)
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ForwardMatchesPeftsFormula(bool bias)
    {
        var lora = Make(bias);
        lora.eval();
        var x = randn(2, 5, 12);
        var expected = Reference(x, lora.Base.weight!.detach(), lora.Base.bias?.detach(), lora.A.detach(), lora.B.detach(), lora.Magnitude!.detach(), lora.Scaling);
        Assert.True(lora.forward(x).allclose(expected, 1e-5, 1e-5));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]   // no bias: the base result is the very tensor autograd keeps (once modified in place: a failed backward)
    public void GradientsOfMagnitudeAAndBMatchAutogradOfTheReference(bool bias)
    {
        var lora = Make(bias);
        lora.train();
        var x = randn(6, 12);
        var target = randn(6, 10);
        var loss = (lora.forward(x) - target).pow(2).mean();
        loss.backward();

        var a = lora.A.detach().clone().requires_grad_();
        var b = lora.B.detach().clone().requires_grad_();
        var m = lora.Magnitude!.detach().clone().requires_grad_();
        var refLoss = (Reference(x, lora.Base.weight!.detach(), lora.Base.bias?.detach(), a, b, m, lora.Scaling) - target).pow(2).mean();
        refLoss.backward();

        Assert.True(lora.Magnitude!.grad!.allclose(m.grad!, 1e-5, 1e-6));
        Assert.True(lora.A.grad!.allclose(a.grad!, 1e-5, 1e-6));
        Assert.True(lora.B.grad!.allclose(b.grad!, 1e-5, 1e-6));
    }

    [Fact]
    public void MergedEqualsUnmergedAndUnmergeRestoresW()
    {
        var lora = Make();
        lora.eval();
        var w0 = lora.Base.weight!.detach().clone();
        var x = randn(4, 12);
        var unmerged = lora.forward(x);
        lora.Merge();
        Assert.True(lora.forward(x).allclose(unmerged, 1e-5, 1e-5));
        lora.Unmerge();
        Assert.True(lora.Base.weight!.detach().allclose(w0, 1e-5, 1e-5));
        Assert.True(lora.forward(x).allclose(unmerged, 1e-5, 1e-5));
    }

    [Fact]
    public void SavedUnderPeftsNames()
    {
        var lora = Make();
        var names = lora.SavedTensors().Select(t => t.Name).ToList();
        Assert.Equal(new[] { "lora_A.weight", "lora_B.weight", "lora_magnitude_vector.weight" }, names);
        Assert.Equal(new long[] { 10 }, lora.SavedTensors().Last().Value.shape);
    }
}
