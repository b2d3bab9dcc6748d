using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models;

/// <summary>scaled_dot_product_attention: the fused kernel is what runs, and it equals the plain (math) path.</summary>
[Collection(GlobalTorchStateCollection.Name)]
public class AttentionTests
{
    private static Tensor LossWithBackends(LlamaForCausalLM model, Batch batch, bool flash, bool math)
    {
        var (f0, m0) = (backends.cuda.flash_sdp_enabled(), backends.cuda.math_sdp_enabled());
        try
        {
            backends.cuda.enable_flash_sdp(flash);
            backends.cuda.enable_math_sdp(math);
            return CausalLoss.Sum(batch.Logits(model), batch.Labels);
        }
        finally
        {
            backends.cuda.enable_flash_sdp(f0);
            backends.cuda.enable_math_sdp(m0);
        }
    }

    public static TheoryData<bool, bool> Cases => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedKernelRunsForTrainingAndEqualsTheMathPath(bool bf16, bool packed)
    {
        using var model = TinyModels.Create();
        if (bf16) model.to(ScalarType.BFloat16);
        manual_seed(2);
        LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["q_proj", "v_proj"]));
        model.train();
        var examples = LoraRecipes.Tests.Data.PackingTests.Examples(new[] { 9, 5, 12, 7 }, seed: 3);
        using var batch = Batch.Collate(packed ? [SequencePacker.Concatenate(examples.Take(2).ToList()), SequencePacker.Concatenate(examples.Skip(2).ToList())] : examples, padId: 0);

        // With the math backend off, SDPA must take the fused (flash) kernel or throw "no available kernel".
        using var fused = LossWithBackends(model, batch, flash: true, math: false);
        fused.backward();
        using var math = LossWithBackends(model, batch, flash: false, math: true);
        double tolerance = bf16 ? 2e-2 : 1e-5;
        Assert.True(Math.Abs(fused.item<float>() - math.item<float>()) <= tolerance * Math.Abs(math.item<float>()), $"{fused.item<float>()} vs {math.item<float>()}");
    }
}

/// <summary>
/// Tests that flip libtorch's global SDPA switches or draw from its global RNG (manual_seed) run alone, after the
/// parallel ones: a trainer running beside them would otherwise see another kernel or another LoRA initialisation.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalTorchStateCollection
{
    public const string Name = "global-torch-state";
}
