using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// What every method's wrapper around a frozen linear layer offers the trainer, the artifact writer, the loader and
/// the merger, so none of them needs to know which method runs. One implementation per method, one file each:
/// <see cref="LoraLinear"/> (LoRA, DoRA, PiSSA/OLoRA initialisation) and <see cref="Ia3Linear"/> (IA3). A method that
/// does not wrap linear layers (prompt/prefix tuning, bottleneck adapters) would add its own module type and report
/// its tensors through the same <see cref="SavedTensors"/> contract.
/// </summary>
public interface IAdapterLayer
{
    /// <summary>PEFT's <c>peft_type</c> for this layer: <c>LORA</c> or <c>IA3</c>.</summary>
    string PeftType { get; }

    /// <summary>The frozen layer being adapted.</summary>
    Linear Base { get; }

    /// <summary>True while the update is folded into the base weight.</summary>
    bool Merged { get; }

    /// <summary>Trainable parameters this layer adds, counted as PEFT's <c>print_trainable_parameters</c> does.</summary>
    long TrainableParameterCount { get; }

    /// <summary>Folds the update into the base weight (and bias, where the method scales it); refuses a non-finite result.</summary>
    void Merge();

    /// <summary>Undoes <see cref="Merge"/> up to floating-point rounding.</summary>
    void Unmerge();

    /// <summary>
    /// The tensors PEFT saves for this layer, by the name that follows the module path (<c>lora_A.weight</c>,
    /// <c>lora_magnitude_vector.weight</c>, <c>ia3_l</c>), detached, fp32, contiguous, on the CPU: the artifact
    /// is exactly what PEFT's <c>save_pretrained</c> would write (PiSSA/OLoRA already converted).
    /// </summary>
    IEnumerable<(string Name, Tensor Value)> SavedTensors();

    /// <summary>The parameter each saved name is loaded into (the inverse of <see cref="SavedTensors"/> for a plain artifact).</summary>
    IEnumerable<(string Name, Tensor Target)> LoadTargets();
}
