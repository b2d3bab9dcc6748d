using LoraRecipes.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Training;

/// <summary>The parameters the optimizer is given: those that train now, plus (method: freeze) every block that trains later.</summary>
internal static class FreezeTraining
{
    /// <summary>
    /// The trainable parameters in model order: requires_grad ones (adapters, a classifier's head) and, for freeze, all its
    /// candidates; each tensor once (a tied lm_head is the embedding). <see cref="FrozenBlocks.Apply"/> then switches the
    /// candidates' requires_grad step by step.
    /// </summary>
    public static List<(string name, Parameter parameter)> Trainable(nn.Module model, FrozenBlocks? frozen)
    {
        if (frozen is null) return model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        var candidates = frozen.Candidates.Select(c => c.Param.Handle).ToHashSet();
        var seen = new HashSet<IntPtr>();
        var trainable = model.named_parameters()
            .Where(p => (p.parameter.requires_grad || candidates.Contains(p.parameter.Handle)) && seen.Add(p.parameter.Handle))
            .Select(p => (p.name, p.parameter)).ToList();
        frozen.Apply(1);
        return trainable;
    }
}
