using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>model_type → the class that implements it. A plain table.</summary>
public static class ModelFamilies
{
    private static readonly IReadOnlyDictionary<string, Func<ModelConfig, nn.Module<Tensor, Tensor>>> Table =
        new Dictionary<string, Func<ModelConfig, nn.Module<Tensor, Tensor>>>
        {
            ["llama"] = c => new LlamaForCausalLM(c),
            ["mistral"] = c => new LlamaForCausalLM(c),
            ["qwen2"] = c => new LlamaForCausalLM(c),
        };

    /// <summary>The supported <c>model_type</c> values.</summary>
    public static IEnumerable<string> Supported => Table.Keys.Order(StringComparer.Ordinal);

    /// <summary>Builds an (uninitialised) model for the config's family.</summary>
    public static nn.Module<Tensor, Tensor> Create(ModelConfig config) =>
        Table.TryGetValue(config.ModelType, out var create) ? create(config)
        : throw new ModelLoadException("config.json", $"model_type '{config.ModelType}' is not supported. Supported: {string.Join(", ", Supported)}.");
}
