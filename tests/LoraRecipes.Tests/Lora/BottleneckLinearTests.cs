using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Tests.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

/// <summary>Bottleneck adapters against a hand-written forward of h = y + up(act(down(y))), y = W x + b.</summary>
[Collection(GlobalRngCollection.Name)]
public class BottleneckLinearTests
{
    [Fact]
    public void ZeroUpMeansStepZeroIsExactlyTheBase()
    {
        manual_seed(3);
        var layer = new BottleneckLinear(nn.Linear(12, 10), 3, BottleneckActivation.Relu);
        var x = randn(2, 5, 12);
        Assert.True(layer.forward(x).equal(layer.Base.forward(x)).all().item<bool>());   // bitwise: y + 0
        Assert.Equal(0f, layer.Up.weight!.abs().max().item<float>());
        Assert.NotEqual(0f, layer.Down.weight!.abs().max().item<float>());
        Assert.True(layer.Down.weight!.abs().max().item<float>() <= 1 / Math.Sqrt(10) + 1e-6);   // kaiming-uniform bound 1/√d
    }

    [Theory]
    [InlineData(BottleneckActivation.Relu)]
    [InlineData(BottleneckActivation.Gelu)]
    [InlineData(BottleneckActivation.Swish)]
    [InlineData(BottleneckActivation.Tanh)]
    public void ForwardMatchesTheHandWrittenFormula(BottleneckActivation activation)
    {
        manual_seed(5);
        var layer = new BottleneckLinear(nn.Linear(12, 10), 4, activation, BottleneckInit.Bert);
        using (no_grad())
        {
            layer.Up.bias!.copy_(randn(10) * 0.1);
            layer.Down.bias!.copy_(randn(4) * 0.1);
        }
        var (w, b) = (layer.Base.weight!.detach(), layer.Base.bias!.detach());
        var (dw, db, uw, ub) = (layer.Down.weight!.detach(), layer.Down.bias!.detach(), layer.Up.weight!.detach(), layer.Up.bias!.detach());
        var x = randn(3, 12);
        var y = x.matmul(w.t()) + b;
        var z = y.matmul(dw.t()) + db;
        var act = activation switch
        {
            BottleneckActivation.Relu => z.clamp_min(0),
            BottleneckActivation.Gelu => z * 0.5 * (1 + special.erf(z / Math.Sqrt(2))),
            BottleneckActivation.Swish => z / (1 + (-z).exp()),
            _ => z.tanh(),
        };
        var expected = y + act.matmul(uw.t()) + ub;
        Assert.True(layer.forward(x).allclose(expected, 1e-5, 1e-6));
        Assert.False(layer.forward(x).allclose(y, 1e-4, 1e-4));   // bert init: the adapter already changes the output
    }

    [Fact]
    public void MergeIsRefusedAndTheCountMatchesTheTensors()
    {
        var layer = new BottleneckLinear(nn.Linear(12, 10), 3, BottleneckActivation.Relu);
        Assert.Throws<NotSupportedException>(layer.Merge);
        Assert.False(layer.Merged);
        long count = layer.SavedTensors().Sum(t => t.Value.numel());   // 3×10 + 3 + 10×3 + 10
        Assert.Equal(73, count);
        Assert.Equal(count, layer.TrainableParameterCount);
        Assert.Equal(["adapter_down.bias", "adapter_down.weight", "adapter_up.bias", "adapter_up.weight"], layer.SavedTensors().Select(t => t.Name).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(BottleneckPlacement.Ffn, new[] { "mlp.down_proj" })]
    [InlineData(BottleneckPlacement.Attention, new[] { "self_attn.o_proj" })]
    [InlineData(BottleneckPlacement.Both, new[] { "mlp.down_proj", "self_attn.o_proj" })]
    public void PlacementWrapsTheFamilysOutputProjectionsAndOnlyAdaptersTrain(BottleneckPlacement placement, string[] suffixes)
    {
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder("builtin:tiny-llama"));
        using var ids = tensor(new long[] { 1, 5, 9, 13, 17, 21 }).unsqueeze(0);
        model.Module.eval();
        Tensor before;
        using (no_grad()) before = model.Module.forward(ids).clone();
        var settings = BottleneckSettings.Resolve(new BottleneckAdapterOptions { Placement = placement, ReductionFactor = 16 }, "llama");
        var wrapped = BottleneckInjector.Inject(model.Module, settings);
        var layers = model.Config.NumHiddenLayers;
        Assert.Equal(layers * suffixes.Length, wrapped.Count);
        Assert.All(wrapped.Keys, k => Assert.Contains(suffixes, s => k.EndsWith("." + s, StringComparison.Ordinal)));
        Assert.All(wrapped.Values, l => Assert.Equal(model.Config.HiddenSize / 16, l.BottleneckSize));
        foreach (var (name, p) in model.Module.named_parameters())
            Assert.Equal(name.Contains(".adapter_", StringComparison.Ordinal), p.requires_grad);
        using (no_grad()) Assert.True(model.Module.forward(ids).equal(before).all().item<bool>());   // zero up: the base model, bit for bit
    }

    [Fact]
    public void BertFamilyFfnPlacementDoesNotTakeTheAttentionOutput()
    {
        var targets = BottleneckSettings.TargetsFor(BottleneckPlacement.Ffn, "bert");
        var matcher = new TargetMatcher(targets);
        Assert.True(matcher.Matches("bert.encoder.layer.0.output.dense"));
        Assert.False(matcher.Matches("bert.encoder.layer.0.attention.output.dense"));
        Assert.Throws<LoraTargetException>(() => BottleneckSettings.TargetsFor(BottleneckPlacement.Ffn, "t5"));
    }
}
