using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>
/// How a family's parameters map onto the tensors of a Hugging Face checkpoint, where the two differ.
/// Llama-style decoders need none of this: their parameter paths are the checkpoint names.
/// </summary>
public interface ICheckpointLayout
{
    /// <summary>
    /// True when the LoRA-targetable layers are HF <c>Conv1D</c> (GPT-2): stored <c>[in, out]</c>, held here
    /// transposed as <c>nn.Linear</c> <c>[out, in]</c>. PEFT's A <c>[r, in]</c> and B <c>[out, r]</c> are the same
    /// either way; only <c>fan_in_fan_out: true</c> in adapter_config.json (and a transposed merge) differ.
    /// </summary>
    bool FanInFanOut { get; }

    /// <summary>
    /// Checkpoint names to try for a parameter, best first: the full HF path, then the path without the
    /// base-model prefix (<c>transformer.</c>, <c>bert.</c>, <c>distilbert.</c>) as base-model checkpoints store it.
    /// </summary>
    IEnumerable<string> CheckpointNames(string parameterPath);

    /// <summary>True for weights the checkpoint stores as <c>[in, out]</c> (Conv1D).</summary>
    bool IsTransposed(string parameterPath);

    /// <summary>
    /// True for parameters a base checkpoint may lack (a fresh classification head, as HF's
    /// <c>from_pretrained</c> warns "newly initialized"); they are drawn N(0, 0.02) with zero bias.
    /// </summary>
    bool MayBeMissing(string parameterPath);
}

/// <summary>Converts between a model's parameters and HF checkpoint tensors (for loading and merged export).</summary>
public static class HfCheckpoint
{
    /// <summary>HF's <c>initializer_range</c> default: the std of a freshly initialised head.</summary>
    public const double InitializerRange = 0.02;

    /// <summary>
    /// The model's weights under their HF names and in the stored layout (Conv1D transposed back to <c>[in, out]</c>).
    /// A wrapped layer — a module that registers the layer it wraps as <c>base_layer</c>, as PEFT's wrappers do —
    /// contributes that base layer under the wrapper's name; the wrapper's own parameters (adapter weights) are not
    /// part of the base model and are skipped (merge first for a merged checkpoint). Models need not know which
    /// wrapper it is: the <c>base_layer</c> name is the whole contract.
    /// </summary>
    public static SortedDictionary<string, Tensor> StateDict(nn.Module model)
    {
        const string Base = "base_layer";
        var layout = model as ICheckpointLayout;
        var parameters = model.named_parameters().ToList();
        var wrappers = parameters.Select(p => WrapperOf(p.name, Base)).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in parameters)
        {
            if (InsideWrapper(name, wrappers, Base)) continue;
            string path = ("." + name).Replace("." + Base + ".", ".", StringComparison.Ordinal)[1..];
            var value = p.detach();
            tensors[path] = layout?.IsTransposed(path) == true ? value.t().contiguous() : value.contiguous();
        }
        return tensors;
    }

    // "h.0.attn.c_attn.base_layer.weight" ⇒ "h.0.attn.c_attn" wraps a layer ("" when the model itself is a wrapper).
    private static string? WrapperOf(string name, string baseName)
    {
        if (name.StartsWith(baseName + ".", StringComparison.Ordinal)) return "";
        int at = name.IndexOf("." + baseName + ".", StringComparison.Ordinal);
        return at < 0 ? null : name[..at];
    }

    // True for a parameter of a wrapper module itself, not of the layer it wraps.
    private static bool InsideWrapper(string name, HashSet<string> wrappers, string baseName)
    {
        for (int dot = name.IndexOf('.'); dot >= 0; dot = name.IndexOf('.', dot + 1))
        {
            string owner = name[..dot];
            if (wrappers.Contains(owner)) return !name.AsSpan(dot + 1).StartsWith(baseName + ".", StringComparison.Ordinal);
        }
        return wrappers.Contains("") && !name.StartsWith(baseName + ".", StringComparison.Ordinal);
    }
}
