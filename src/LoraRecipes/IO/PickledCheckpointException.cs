namespace LoraRecipes.IO;

/// <summary>
/// A model folder holds only pickled PyTorch weights (<c>pytorch_model.bin</c>, <c>*.pt</c>…). Unpickling can run
/// arbitrary code, so they are refused; the message gives the one-line Python conversion to safetensors.
/// </summary>
public sealed class PickledCheckpointException : Exception
{
    /// <summary>The Python one-liner that converts <c>pytorch_model.bin</c> in the current directory.</summary>
    public const string ConversionCommand =
        "python -c \"import torch; from safetensors.torch import save_file; " +
        "sd = torch.load('pytorch_model.bin', map_location='cpu', weights_only=True); " +
        "save_file({k: v.contiguous().clone() for k, v in sd.items()}, 'model.safetensors', metadata={'format': 'pt'})\"";

    public PickledCheckpointException(string folder, IReadOnlyList<string> pickledFiles)
        : base(
            $"'{folder}' has no safetensors weights, only pickled PyTorch files ({string.Join(", ", pickledFiles)}). " +
            "Loading pickles can execute arbitrary code, so LoraRecipes refuses them. " +
            $"Convert once in that folder with: {ConversionCommand} " +
            "(for several .bin shards, convert each and write model.safetensors.index.json, or re-save with transformers' save_pretrained(safe_serialization=True)).")
    {
        Folder = folder;
        PickledFiles = pickledFiles;
    }

    /// <summary>The model folder.</summary>
    public string Folder { get; }

    /// <summary>The pickled files found there (names only).</summary>
    public IReadOnlyList<string> PickledFiles { get; }
}
