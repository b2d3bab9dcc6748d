using LoraRecipes.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

#pragma warning disable IDE1006 // PEFT's module names: base_layer, ia3_l

/// <summary>
/// <see cref="HfCheckpoint.StateDict"/> knows wrappers only by the <c>base_layer</c> name: any wrapper (not just
/// LoRA's) contributes its base layer under its own name and none of its own parameters.
/// </summary>
public sealed class HfCheckpointTests
{
    // A wrapper Models has never heard of: an IA3-style learned scale on the output.
    private sealed class ScaledLinear : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> base_layer;
        private readonly Parameter ia3_l;

        public ScaledLinear(Linear inner) : base(nameof(ScaledLinear))
        {
            base_layer = inner;
            ia3_l = nn.Parameter(full(inner.weight!.shape[0], 3.0f));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => base_layer.forward(x) * ia3_l;
    }

    private sealed class Host : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> proj;
        private readonly nn.Module<Tensor, Tensor> out_proj;

        public Host(Linear a, Linear b) : base(nameof(Host))
        {
            proj = new ScaledLinear(a);
            out_proj = b;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => out_proj.forward(proj.forward(x));
    }

    [Fact]
    public void A_wrapper_contributes_its_base_layer_under_its_own_name_and_none_of_its_own_parameters()
    {
        manual_seed(1);
        var a = nn.Linear(4, 3);
        var b = nn.Linear(3, 2);
        var state = HfCheckpoint.StateDict(new Host(a, b));
        Assert.Equal(["out_proj.bias", "out_proj.weight", "proj.bias", "proj.weight"], state.Keys);
        Assert.True(state["proj.weight"].allclose(a.weight!, rtol: 0, atol: 0));
        Assert.True(state["out_proj.bias"].allclose(b.bias!, rtol: 0, atol: 0));
    }

    [Fact]
    public void A_model_that_is_itself_a_wrapper_gives_its_base_layers_names()
    {
        var a = nn.Linear(4, 3);
        Assert.Equal(["bias", "weight"], HfCheckpoint.StateDict(new ScaledLinear(a)).Keys);
    }
}
