using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

/// <summary>
/// Random initialisations draw from the run's seeded generator only: the same seed gives the same weights whatever the
/// global RNG did in between (TorchSharp's <c>nn.init.normal_</c> ignores a generator passed to it; a resumed run
/// rebuilds its adapters after other draws, so an init that used the global RNG would differ after a resume).
/// </summary>
public class SeededInitTests
{
    private static Tensor LoraA(LoraInit init, long seed, long globalSeed)
    {
        manual_seed(globalSeed);
        using var generator = new Generator((ulong)seed);
        var lora = new LoraLinear(nn.Linear(32, 24), 8, 16, 0.0, false, init, generator);
        return lora.A.detach().clone();
    }

    private static (Tensor Down, Tensor Up) Bottleneck(long seed, long globalSeed)
    {
        manual_seed(globalSeed);
        using var generator = new Generator((ulong)seed);
        var layer = new BottleneckLinear(nn.Linear(32, 24), 6, BottleneckActivation.Relu, BottleneckInit.Bert, generator: generator);
        return (layer.Down.weight!.detach().clone(), layer.Up.weight!.detach().clone());
    }

    private static bool Same(Tensor x, Tensor y) => x.shape.SequenceEqual(y.shape) && x.eq(y).all().item<bool>();

    [Theory]
    [InlineData(LoraInit.Gaussian)]
    [InlineData(LoraInit.Default)]
    public void LoraAFollowsTheGeneratorNotTheGlobalRng(LoraInit init)
    {
        using var a = LoraA(init, seed: 7, globalSeed: 1);
        using var b = LoraA(init, seed: 7, globalSeed: 99);
        using var c = LoraA(init, seed: 8, globalSeed: 1);
        Assert.True(Same(a, b), "same generator seed, different global RNG: the init must not change");
        Assert.False(Same(a, c), "a different generator seed must give a different init");
    }

    [Fact]
    public void GaussianLoraAHasStdOneOverR()
    {
        // PEFT init_lora_weights="gaussian": nn.init.normal_(A, std=1/r); r = 8 here, 8·32 = 256 draws.
        using var a = LoraA(LoraInit.Gaussian, seed: 11, globalSeed: 3);
        double std = a.std().item<float>();
        Assert.InRange(std, 0.125 * 0.8, 0.125 * 1.2);
    }

    [Fact]
    public void BertBottleneckInitFollowsTheGenerator()
    {
        var (d1, u1) = Bottleneck(seed: 5, globalSeed: 1);
        var (d2, u2) = Bottleneck(seed: 5, globalSeed: 42);
        var (d3, _) = Bottleneck(seed: 6, globalSeed: 1);
        Assert.True(Same(d1, d2) && Same(u1, u2));
        Assert.False(Same(d1, d3));
        Assert.InRange(d1.std().item<float>(), 0.02 * 0.8, 0.02 * 1.2);
    }
}
