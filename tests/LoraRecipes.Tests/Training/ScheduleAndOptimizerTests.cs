using LoraRecipes.Recipes;
using LoraRecipes.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Training;

public class ScheduleAndOptimizerTests
{
    [Fact]
    public void LinearScheduleWarmsUpThenDecaysToZero()
    {
        var s = new LearningRateSchedule(LrScheduler.Linear, 1.0, WarmupSteps: 4, TotalSteps: 14);
        Assert.Equal(0.2, s.At(0), 12);
        Assert.Equal(0.8, s.At(3), 12);
        Assert.Equal(1.0, s.At(4), 12);
        Assert.Equal(0.5, s.At(9), 12);
        Assert.Equal(0.1, s.At(13), 12);
    }

    [Fact]
    public void CosineAndConstantSchedules()
    {
        var cosine = new LearningRateSchedule(LrScheduler.Cosine, 2.0, 0, 10);
        Assert.Equal(2.0, cosine.At(0), 12);
        Assert.Equal(1.0, cosine.At(5), 12);
        Assert.Equal(2.0 * 0.5 * (1 + Math.Cos(Math.PI * 0.9)), cosine.At(9), 12);
        Assert.Equal(3.0, new LearningRateSchedule(LrScheduler.Constant, 3.0, 0, 10).At(7), 12);
        Assert.Equal(3, LearningRateSchedule.WarmupFor(0.03, 100));
    }

    [Fact]
    public void AdamWMatchesTheUpdateWrittenOut()
    {
        var p = new TorchSharp.Modules.Parameter(tensor(new float[] { 1f, -2f, 0.5f, 3f }).reshape(2, 2));
        var bias = new TorchSharp.Modules.Parameter(tensor(new float[] { 1f, 1f }));
        using var opt = new AdamW(new[] { ("w", p), ("bias", bias) }, weightDecay: 0.1);
        double[] w = { 1, -2, 0.5, 3 }, m = new double[4], v = new double[4];
        double[] b = { 1, 1 };
        double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        for (int t = 1; t <= 3; t++)
        {
            var g = new double[] { 0.1 * t, -0.2, 0.3, 0.05 * t };
            p.grad = tensor(g.Select(x => (float)x).ToArray()).reshape(2, 2);
            bias.grad = tensor(new float[] { 0.5f, -0.5f });
            opt.Step(lr);
            for (int i = 0; i < 4; i++)
            {
                w[i] -= lr * 0.1 * w[i];                                  // decoupled decay (matrices only)
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double mHat = m[i] / (1 - Math.Pow(b1, t)), denom = Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
                w[i] -= lr * mHat / denom;
            }
            for (int i = 0; i < 2; i++) b[i] -= lr * Math.Sign(i == 0 ? 1 : -1);   // |m̂/√v̂| = 1 for a constant gradient, no decay on biases
        }
        var actual = p.detach().reshape(4).data<float>().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(w[i], actual[i], 5);
        var actualBias = bias.detach().data<float>().ToArray();
        Assert.Equal(b[0], actualBias[0], 4);
        Assert.Equal(b[1], actualBias[1], 4);
    }
}
