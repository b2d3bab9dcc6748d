using LoraRecipes.Data;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Training.Tasks;
using static TorchSharp.torch;

namespace LoraRecipes.Bench.Tests;

/// <summary>
/// The loss paths <c>--profile-step</c> and <c>--head previous</c> time against the trainer's (bench/NOTES.md §14): the
/// pre-§14 path (autograd cross-entropy, 2^25-logit chunks) and the trainer's path at another chunk size must give the
/// trainer's loss and LoRA gradients on a small tied model, or the A/B would compare different work.
/// </summary>
public sealed class HeadPathTests
{
    static HeadPathTests() => LoraRecipes.Native.LibTorchLoader.EnsureInitialized();

    private static (double Loss, List<Tensor> Grads) Run(ITaskLoss loss, LlamaForCausalLM model, IReadOnlyList<LoraLinear> lora, IReadOnlyList<TokenizedExample> examples)
    {
        long units = examples.Sum(loss.Units);
        using var scope = NewDisposeScope();
        using var batch = loss.Collate(examples, padId: 0, CPU);
        using var batchLoss = batch.Forward(model, units);
        double sum = batchLoss.Sum;
        batchLoss.Backward();
        var grads = lora.SelectMany(l => new[] { l.A.grad!.clone().DetachFromDisposeScope(), l.B.grad!.clone().DetachFromDisposeScope() }).ToList();
        foreach (var p in model.parameters()) p.grad = null;
        return (sum, grads);
    }

    [Fact]
    public void The_previous_path_and_a_smaller_chunk_give_the_trainers_loss_and_gradients()
    {
        manual_seed(3);
        var config = new ModelConfig
        {
            ModelType = "llama", VocabSize = 97, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 4, HeadDim = 8, RmsNormEps = 1e-5, RopeTheta = 10000, MaxPositionEmbeddings = 64, TieWordEmbeddings = true,
        };
        using var model = new LlamaForCausalLM(config);
        var lora = LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["q_proj", "v_proj"])).Values.ToList();
        using (no_grad()) foreach (var l in lora) l.B.copy_(randn_like(l.B) * 0.1);
        model.train();
        var random = new Random(5);
        // Ragged rows with a masked prompt: padding and unscored positions on every path.
        var examples = new[] { 19, 11, 16 }.Select((n, i) =>
        {
            var ids = Enumerable.Range(0, n).Select(_ => random.Next(config.VocabSize)).ToArray();
            return new TokenizedExample(ids, ids.Select((t, j) => j < 4 ? ExampleEncoder.IgnoreIndex : t).ToArray(), i);
        }).ToList();

        var trainer = Run(CausalLmLoss.Instance, model, lora, examples);
        Assert.All(trainer.Grads, g => Assert.True(g.abs().max().item<float>() > 0, "the gradient is not trivially zero"));
        foreach (var other in new ITaskLoss[] { PreviousHeadLoss.Instance, new ChunkedHeadLoss(chunkRows: 5) })
        {
            var r = Run(other, model, lora, examples);
            Assert.True(Math.Abs(r.Loss - trainer.Loss) <= 1e-5 * Math.Abs(trainer.Loss), $"{other.GetType().Name}: loss {r.Loss} vs {trainer.Loss}");
            for (int i = 0; i < r.Grads.Count; i++)
                Assert.True(r.Grads[i].allclose(trainer.Grads[i], rtol: 1e-4, atol: 1e-7), $"{other.GetType().Name}: gradient {i}, max |Δ| {(r.Grads[i] - trainer.Grads[i]).abs().max().item<float>()}");
        }
    }
}
