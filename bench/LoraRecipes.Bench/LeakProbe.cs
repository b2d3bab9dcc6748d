using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Training;
using LoraRecipes.Training.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary><c>--leak-probe</c>: RSS growth over 30 steps of each part of a training step, to find what is not disposed.</summary>
internal static class LeakProbe
{
    private static long Collected()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return SystemProbe.Rss();
    }

    public static void Run()
    {
        using var loaded = ModelLoader.Load(BuiltinModels.Materialize("tiny-llama"));
        var model = loaded.Module;
        LoraInjector.Inject(model, new LoraSettings(8, 16, 0.0, ["q_proj", "v_proj"]));
        using var optimizer = new AdamW(model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)), 0.01);
        model.train();
        var ids = Enumerable.Range(0, 8).Select(b => new TokenizedExample(Enumerable.Range(0, 256).Select(i => (i * 7 + b) % 2000).ToArray(), Enumerable.Range(0, 256).Select(i => (i * 7 + b) % 2000).ToArray(), b)).ToList();
        var step = new TrainingStep(CausalLmLoss.Instance, model, optimizer, padId: 0, CPU, maxGradNorm: 1.0);
        foreach (var (name, part) in new (string, Action)[]
        {
            ("trainer step", () => step.Run([ids], 1e-4, 1)),
            ("forward (no_grad)", () => { using var g = no_grad(); using var b = Batch.Collate(ids, 0); b.Logits(model); }),
            ("forward + loss", () => { using var b = Batch.Collate(ids, 0); CausalLoss.Sum(b.Logits(model), b.Labels); }),
            ("forward + backward", () => { using var b = Batch.Collate(ids, 0); CausalLoss.Sum(b.Logits(model), b.Labels).backward(); optimizer.ZeroGrad(); }),
            ("full step", () => { using var b = Batch.Collate(ids, 0); CausalLoss.Sum(b.Logits(model), b.Labels).backward(); nn.utils.clip_grad_norm_(optimizer.Parameters, 1.0); optimizer.Step(1e-4); optimizer.ZeroGrad(); }),
        })
        {
            for (int i = 0; i < 5; i++) { using var s = NewDisposeScope(); part(); }
            Collected();
            long before = SystemProbe.Rss(), live = Tensor.TotalCount;
            for (int i = 0; i < 30; i++) { using var s = NewDisposeScope(); part(); }
            long grown = Tensor.TotalCount - live, rss = SystemProbe.Rss();
            Console.WriteLine($"{name,-22} RSS {before >> 20} → {rss >> 20} MiB over 30 steps, after a GC {Collected() >> 20} MiB; live tensors +{grown} (not disposed: left to the GC), after the GC +{Tensor.TotalCount - live}");
        }
    }
}
