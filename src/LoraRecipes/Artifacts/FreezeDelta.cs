using LoraRecipes.IO;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Artifacts;

/// <summary>
/// Reads a <c>method: freeze</c> delta (<c>peft_type: FREEZE</c>): whole tensors under the base checkpoint's own names, each
/// replacing the model's parameter of that name (GPT-2's Conv1D weights transposed back into nn.Linear's layout). Nothing is
/// wrapped, so the loaded model is the merged model: merging is substituting.
/// </summary>
public static class FreezeDelta
{
    /// <summary>The model parameter each tensor of the delta replaces, by tensor name.</summary>
    /// <exception cref="AdapterLoadException">A tensor names no parameter of this base model.</exception>
    public static IReadOnlyDictionary<string, string> Targets(nn.Module model, string weightsPath)
    {
        var layout = model as ICheckpointLayout;
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, _) in model.named_parameters())
        {
            foreach (string alias in layout?.CheckpointNames(name) ?? [name]) byName.TryAdd(alias, name);
            byName.TryAdd(name, name);
        }
        using var file = SafetensorsFile.Open(weightsPath);
        var targets = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var info in file.Tensors)
        {
            targets[info.Name] = byName.GetValueOrDefault(info.Name)
                ?? throw new AdapterLoadException(weightsPath, $"tensor '{info.Name}' is not a parameter of this base model (a freeze delta holds base tensors under their own names); " +
                   "was it trained on another model, or for another task (load a SEQ_CLS delta onto the *ForSequenceClassification model)?");
        }
        if (targets.Count == 0) throw new AdapterLoadException(weightsPath, "the freeze delta holds no tensors.");
        return targets;
    }

    /// <summary>Copies every tensor of the delta into its parameter (shapes checked); returns the replaced parameter names.</summary>
    public static IReadOnlyList<string> Apply(nn.Module model, string weightsPath)
    {
        var targets = Targets(model, weightsPath);
        var layout = model as ICheckpointLayout;
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter, StringComparer.Ordinal);
        using var file = SafetensorsFile.Open(weightsPath);
        using var guard = no_grad();
        foreach (var (key, name) in targets)
        {
            using var stored = file.ReadTensor(key);
            using var value = layout?.IsTransposed(name) == true ? stored.t() : stored.alias();
            var target = parameters[name];
            if (!value.shape.SequenceEqual(target.shape))
                throw new AdapterLoadException(weightsPath, $"tensor '{key}' has shape [{string.Join(", ", stored.shape)}] but this base model's {name} is [{string.Join(", ", target.shape)}]; was the delta trained on another model?");
            target.copy_(value);
        }
        return targets.Values.ToList();
    }
}
