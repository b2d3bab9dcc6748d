using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Tests.Data;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Evaluation;

/// <summary>
/// Tied embeddings (llama2.c, Qwen2.5 small, SmolLM): the head reads the embedding matrix itself. The trainer's loss
/// path on a tied model must give the loss and LoRA gradients of the same model with an untied copy of that matrix as
/// its head, and of the plain path (full logits, one autograd backward).
/// </summary>
[Collection(LoraRecipes.Tests.Models.GlobalTorchStateCollection.Name)]
public class TiedHeadTests
{
    /// <summary>A tied model and an untied one holding the same weights, the head a copy of the embeddings; LoRA on both alike.</summary>
    private static ((LlamaForCausalLM Model, List<LoraLinear> Lora) Tied, (LlamaForCausalLM Model, List<LoraLinear> Lora) Untied) Pair()
    {
        var tied = TinyModels.Create(TinyModels.Config(gqa: false, tied: true));
        var untied = new LlamaForCausalLM(TinyModels.Config(gqa: false, tied: false));
        var source = tied.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
            foreach (var (name, p) in untied.named_parameters())
                p.copy_(source[name == "lm_head.weight" ? "model.embed_tokens.weight" : name]);
        return (Adapt(tied), Adapt(untied));
    }

    private static (LlamaForCausalLM, List<LoraLinear>) Adapt(LlamaForCausalLM model)
    {
        manual_seed(11);
        var wrapped = LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["q_proj", "v_proj"]));
        using (no_grad()) foreach (var l in wrapped.Values) l.B.copy_(randn(l.B.shape, generator: new Generator(5)) * 0.1);
        model.train();
        return (model, wrapped.Values.ToList());
    }

    private static (double Loss, List<Tensor> Grads) HeadPath(LlamaForCausalLM model, List<LoraLinear> lora, Batch batch)
    {
        long scored = CausalLoss.ScoredTokens(batch.Labels);
        using var head = CausalLoss.FromHidden(model, batch.Hidden(model), batch.Labels, gradScale: 1.0 / scored, chunkRows: 9);
        double sum = head.Sum;
        head.Backward();
        var grads = lora.SelectMany(l => new[] { l.A.grad!.clone(), l.B.grad!.clone() }).ToList();
        foreach (var p in model.parameters()) p.grad = null;
        return (sum, grads);
    }

    [Fact]
    public void TiedHeadGivesTheUntiedModelsLossAndGradients()
    {
        var (tied, untied) = Pair();
        using var _ = tied.Model;
        using var __ = untied.Model;
        // Tied: the head is the embedding matrix itself.
        var embed = tied.Model.named_parameters().First(p => p.name == "model.embed_tokens.weight").parameter;
        using (no_grad())
        using (var x = randn(3, 32))
            Assert.True(tied.Model.Head(x).allclose(x.matmul(embed.t()), rtol: 1e-5, atol: 1e-6));
        using var batch = Batch.Collate(SequencePacker.Pack(PackingTests.Examples([11, 6, 17, 9, 4, 13], seed: 2), maxLength: 32), padId: 0);
        var t = HeadPath(tied.Model, tied.Lora, batch);
        var u = HeadPath(untied.Model, untied.Lora, batch);
        Assert.True(Math.Abs(t.Loss - u.Loss) <= 1e-6 * Math.Abs(u.Loss), $"tied loss {t.Loss} vs untied {u.Loss}");
        for (int i = 0; i < t.Grads.Count; i++)
        {
            Assert.True(u.Grads[i].abs().max().item<float>() > 0, "the gradient is not trivially zero");
            Assert.True(t.Grads[i].allclose(u.Grads[i], rtol: 1e-5, atol: 1e-8), $"gradient {i}: max |Δ| {(t.Grads[i] - u.Grads[i]).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void TiedHeadPathEqualsThePlainFullLogitsPath()
    {
        var (tied, _) = Pair();
        using var model = tied.Model;
        using var batch = Batch.Collate(PackingTests.Examples([13, 7, 20, 16], seed: 3), padId: 0);
        long scored = CausalLoss.ScoredTokens(batch.Labels);
        var plain = CausalLoss.Sum(batch.Logits(model), batch.Labels);
        (plain / scored).backward();
        var plainGrads = tied.Lora.SelectMany(l => new[] { l.A.grad!.clone(), l.B.grad!.clone() }).ToList();
        foreach (var p in model.parameters()) p.grad = null;
        var head = HeadPath(model, tied.Lora, batch);
        Assert.True(Math.Abs(head.Loss - plain.item<float>()) <= 1e-5 * Math.Abs(head.Loss));
        for (int i = 0; i < plainGrads.Count; i++) Assert.True(head.Grads[i].allclose(plainGrads[i], rtol: 1e-4, atol: 1e-7), $"gradient {i} differs");
        // The embedding matrix stays frozen and gets no gradient through the head.
        Assert.Null(model.named_parameters().First(p => p.name == "model.embed_tokens.weight").parameter.grad);
    }
}
