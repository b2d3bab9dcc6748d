using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

/// <summary>The bf16 base (precision auto/bf16) against the plain fp32 path.</summary>
[Collection(LoraRecipes.Tests.Models.GlobalTorchStateCollection.Name)]
public class PrecisionTests
{
    /// <summary>
    /// The tiny model initialised as HF does (N(0, 0.02), head at 1/√hidden: the activation scale of real checkpoints),
    /// with LoRA on q/v, B made non-zero so the adapter contributes, base in <paramref name="dtype"/>.
    /// </summary>
    private static LlamaForCausalLM Adapted(ScalarType dtype)
    {
        var config = TinyModels.Config(gqa: true, bias: true, tied: false);
        var model = TinyModels.Create(config);
        using (no_grad())
        {
            var g = new Generator(8);
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith("norm.weight", StringComparison.Ordinal)) continue;
                double std = name == "lm_head.weight" ? 1.0 / Math.Sqrt(config.HiddenSize) : 0.02;
                p.copy_(randn(p.shape, generator: g) * std);
            }
        }
        if (dtype != ScalarType.Float32) model.to(dtype);
        manual_seed(11);
        var wrapped = LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["q_proj", "v_proj"]));
        using (no_grad())
        {
            var g = new Generator(5);
            foreach (var lora in wrapped.Values) lora.B.copy_(randn(lora.B.shape, generator: g) * 0.5);
        }
        model.train();
        return model;
    }

    private static (double Loss, Dictionary<string, Tensor> Grads) LossAndGrads(LlamaForCausalLM model, Tensor ids)
    {
        var loss = CausalLoss.Sum(model.forward(ids), ids) / (ids.shape[0] * (ids.shape[1] - 1));
        loss.backward();
        var grads = model.named_parameters().Where(p => p.parameter.requires_grad)
            .ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone());
        return (loss.item<float>(), grads);
    }

    [Fact]
    public void Bf16BaseKeepsLoraWeightsGradientsAndLossInFp32AndMatchesFp32()
    {
        var ids = TinyModels.Ids(3, 24);
        using var fp32 = Adapted(ScalarType.Float32);
        using var bf16 = Adapted(ScalarType.BFloat16);
        var (loss32, grads32) = LossAndGrads(fp32, ids);
        var (loss16, grads16) = LossAndGrads(bf16, ids);

        foreach (var (name, p) in bf16.named_parameters())
            Assert.Equal(LoraInjector.IsAdapterParameter(name) ? ScalarType.Float32 : ScalarType.BFloat16, p.dtype);
        Assert.All(grads16.Values, g => Assert.Equal(ScalarType.Float32, g.dtype));

        // bf16 keeps 8 bits of mantissa: the loss agrees to well under a percent, gradients point the same way.
        Assert.True(Math.Abs(loss16 - loss32) / loss32 < 1e-2, $"fp32 loss {loss32}, bf16 loss {loss16}");
        foreach (var (name, g32) in grads32)
        {
            double cosine = nn.functional.cosine_similarity(g32.flatten(), grads16[name].flatten(), 0).item<float>();
            Assert.True(cosine > 0.98, $"{name}: cosine {cosine}");
        }
    }

    [Fact]
    public void Fp32StaysExactlyTheFp32PathAndAutoFollowsTheHardware()
    {
        Assert.Equal(ScalarType.Float32, DeviceSelection.ResolvePrecision(Precision.Fp32, CPU).DType);
        Assert.Null(DeviceSelection.ResolvePrecision(Precision.Fp32, CPU).Warning);
        Assert.Equal(DeviceSelection.CpuHasBf16() ? ScalarType.BFloat16 : ScalarType.Float32, DeviceSelection.ResolvePrecision(Precision.Auto, CPU, 512).DType);
        Assert.Equal(ScalarType.Float32, DeviceSelection.ResolvePrecision(Precision.Auto, CPU, 256).DType);   // too small for bf16 to pay
        Assert.Equal(ScalarType.BFloat16, DeviceSelection.ResolvePrecision(Precision.Bf16, CPU).DType);
        var fp16 = DeviceSelection.ResolvePrecision(Precision.Fp16, CPU);
        Assert.Equal(ScalarType.Float32, fp16.DType);
        Assert.NotNull(fp16.Warning);
    }

    [Fact]
    public void TrainerRunsTheBaseInBf16AndItsValidationLossMatchesFp32()
    {
        using var fixture = new TrainingFixture(records: 12);
        var fp32 = new LoraTrainer(fixture.Plan(fixture.Recipe("p32", maxSteps: 2), "training.precision=fp32")).Run();
        var bf16 = new LoraTrainer(fixture.Plan(fixture.Recipe("p16", maxSteps: 2), "training.precision=bf16")).Run();
        Assert.True(Math.Abs(bf16.InitialValidationLoss!.Value - fp32.InitialValidationLoss!.Value) / fp32.InitialValidationLoss.Value < 1e-2,
            $"{fp32.InitialValidationLoss} vs {bf16.InitialValidationLoss}");
        Assert.True(Math.Abs(bf16.FinalValidationLoss!.Value - fp32.FinalValidationLoss!.Value) / fp32.FinalValidationLoss.Value < 3e-2,
            $"{fp32.FinalValidationLoss} vs {bf16.FinalValidationLoss}");
        string manifest = File.ReadAllText(Path.Combine(fixture.Directory, "out", "p16", "lora-manifest.json"));
        Assert.Contains("\"bf16\"", manifest);
    }
}
