using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

public class LoraInjectorTests
{
    private static LoraSettings Settings(params string[] targets) => new(4, 8, 0.0, targets);

    [Fact]
    public void SuffixTargetsWrapEveryLayersProjection()
    {
        var model = TinyModels.Create();
        var wrapped = LoraInjector.Inject(model, Settings("q_proj", "v_proj"));
        Assert.Equal(new[]
        {
            "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
            "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj",
        }, wrapped.Keys);
        // The parameter paths follow PEFT: the wrapped linear becomes base_layer, the update lora_A / lora_B.
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_proj.base_layer.weight", names);
        Assert.Contains("model.layers.0.self_attn.q_proj.lora_A.weight", names);
        Assert.Contains("model.layers.1.self_attn.v_proj.lora_B.weight", names);
        Assert.Contains("model.layers.0.self_attn.k_proj.weight", names);
    }

    [Fact]
    public void RegexMatchesWholePathsAndAllLinearSkipsTheHead()
    {
        var regex = LoraInjector.Inject(TinyModels.Create(), Settings(@"re:model\.layers\.1\.mlp\.(gate|up)_proj"));
        Assert.Equal(new[] { "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj" }, regex.Keys);

        var all = LoraInjector.Inject(TinyModels.Create(TinyModels.Config(tied: false)), Settings("all-linear"));
        Assert.Equal(2 * 7, all.Count);
        Assert.DoesNotContain("lm_head", all.Keys);
    }

    [Fact]
    public void TargetsMatchingNothingListTheModulesThatExist()
    {
        var ex = Assert.Throws<LoraTargetException>(() => LoraInjector.Inject(TinyModels.Create(), Settings("query", "value")));
        Assert.Contains("q_proj", ex.Message);
        Assert.Contains("down_proj", ex.Message);
        Assert.Contains("query", ex.Message);
    }

    [Fact]
    public void InjectedModelComputesTheBaseFunctionAndOnlyLoraGetsGradients()
    {
        var model = TinyModels.Create();
        var ids = TinyModels.Ids(2, 10);
        var before = model.forward(ids).detach().clone();
        LoraInjector.Inject(model, Settings("q_proj", "v_proj", "down_proj"));
        Assert.True(TensorAssert.Same(model.forward(ids), before));   // B = 0 ⇒ identical outputs

        model.train();
        var loss = CausalLoss.Sum(model.forward(ids), ids);
        loss.backward();
        foreach (var (name, p) in model.named_parameters())
        {
            bool adapter = name.Contains(".lora_", StringComparison.Ordinal);
            Assert.Equal(adapter, p.requires_grad);
            Assert.Equal(adapter, p.grad is not null);
        }
        // With B = 0 only B receives a non-zero gradient on the first step (∂/∂A ∝ Bᵀ = 0).
        var bGrad = model.named_parameters().Where(p => p.name.EndsWith("lora_B.weight", StringComparison.Ordinal)).Sum(p => p.parameter.grad!.abs().sum().item<float>());
        Assert.True(bGrad > 0);
    }

    [Fact]
    public void MergingEveryLayerKeepsTheModelOutput()
    {
        var model = TinyModels.Create();
        var wrapped = LoraInjector.Inject(model, Settings("all-linear"));
        using (no_grad())
        {
            foreach (var l in wrapped.Values) l.B.copy_(randn_like(l.B) * 0.1);
        }
        var ids = TinyModels.Ids(2, 12);
        var unmerged = model.forward(ids).detach().clone();
        foreach (var l in wrapped.Values) l.Merge();
        Assert.True(model.forward(ids).allclose(unmerged, rtol: 1e-4, atol: 1e-4));
    }
}
