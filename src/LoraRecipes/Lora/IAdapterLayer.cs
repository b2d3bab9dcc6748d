using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// What every method's trainable module offers the trainer, the plan's parameter count and the artifact writer, so none
/// of them needs to know which method runs: PEFT's type, its trainable parameter count, and its saved tensors. Methods that
/// wrap a frozen linear layer refine it as <see cref="IAdapterLayer"/>; the prompt-learning methods, which add input
/// embeddings instead (<see cref="PromptEmbedding"/>, <see cref="PromptEncoder"/>), implement only this.
/// </summary>
public interface IAdapterModule
{
    /// <summary>PEFT's <c>peft_type</c>: <c>LORA</c>, <c>IA3</c>, <c>PROMPT_TUNING</c>, <c>P_TUNING</c>, …</summary>
    string PeftType { get; }

    /// <summary>Trainable parameters this module adds, counted as PEFT's <c>print_trainable_parameters</c> does.</summary>
    long TrainableParameterCount { get; }

    /// <summary>
    /// The tensors PEFT saves for this module, by the name that follows the module path (<c>lora_A.weight</c>,
    /// <c>lora_magnitude_vector.weight</c>, <c>ia3_l</c>; a module whose path is empty names the whole key, e.g.
    /// <c>prompt_embeddings</c>), detached, fp32, contiguous, on the CPU: the artifact is exactly what PEFT's
    /// <c>save_pretrained</c> would write (PiSSA/OLoRA already converted, a p-tuning encoder already applied).
    /// </summary>
    IEnumerable<(string Name, Tensor Value)> SavedTensors();

    /// <summary>The parameter each saved name is loaded into (the inverse of <see cref="SavedTensors"/> for a plain artifact).</summary>
    IEnumerable<(string Name, Tensor Target)> LoadTargets();
}

/// <summary>
/// What every method's wrapper around a frozen linear layer offers beyond <see cref="IAdapterModule"/>: the wrapped layer
/// and merging. One implementation per method, one file each: <see cref="LoraLinear"/> (LoRA, DoRA, PiSSA/OLoRA
/// initialisation), <see cref="Ia3Linear"/> (IA3) and <see cref="BottleneckLinear"/> (bottleneck adapters).
/// </summary>
public interface IAdapterLayer : IAdapterModule
{
    /// <summary>The frozen layer being adapted.</summary>
    Linear Base { get; }

    /// <summary>True while the update is folded into the base weight.</summary>
    bool Merged { get; }

    /// <summary>Folds the update into the base weight (and bias, where the method scales it); refuses a non-finite result.</summary>
    void Merge();

    /// <summary>Undoes <see cref="Merge"/> up to floating-point rounding.</summary>
    void Unmerge();
}
