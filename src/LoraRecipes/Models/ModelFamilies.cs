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
            ["qwen3"] = c => new LlamaForCausalLM(c),
            ["gpt2"] = c => new Gpt2LMHeadModel(c),
            // Encoders have no LM head here: their one task is sequence classification.
            ["bert"] = c => new BertForSequenceClassification(c),
            ["distilbert"] = c => new DistilBertForSequenceClassification(c),
        };

    private static readonly IReadOnlyDictionary<string, Func<ModelConfig, nn.Module<Tensor, Tensor>>> Classifiers =
        new Dictionary<string, Func<ModelConfig, nn.Module<Tensor, Tensor>>>
        {
            ["llama"] = c => new LlamaForSequenceClassification(c),
            ["mistral"] = c => new LlamaForSequenceClassification(c),
            ["qwen2"] = c => new LlamaForSequenceClassification(c),
            ["qwen3"] = c => new LlamaForSequenceClassification(c),
            ["bert"] = c => new BertForSequenceClassification(c),
            ["distilbert"] = c => new DistilBertForSequenceClassification(c),
        };

    /// <summary>Families whose config.json keys differ from Llama's.</summary>
    private static readonly IReadOnlyDictionary<string, IConfigFormat> ConfigFormats = new Dictionary<string, IConfigFormat>
    {
        ["gpt2"] = Gpt2ConfigFormat.Instance,
        ["bert"] = BertConfigFormat.Instance,
        ["distilbert"] = DistilBertConfigFormat.Instance,
    };

    /// <summary>The supported <c>model_type</c> values.</summary>
    public static IEnumerable<string> Supported => Table.Keys.Order(StringComparer.Ordinal);

    /// <summary>Builds an (uninitialised) model for the config's family.</summary>
    public static nn.Module<Tensor, Tensor> Create(ModelConfig config) =>
        Table.TryGetValue(config.ModelType, out var create) ? create(config)
        : throw new ModelLoadException("config.json", $"model_type '{config.ModelType}' is not supported. Supported: {string.Join(", ", Supported)}.");

    /// <summary>The model_type values that have a sequence-classification head.</summary>
    public static IEnumerable<string> SupportedClassifiers => Classifiers.Keys.Order(StringComparer.Ordinal);

    /// <summary>Builds the family's <c>*ForSequenceClassification</c> model (an <see cref="ISequenceClassifier"/>).</summary>
    public static nn.Module<Tensor, Tensor> CreateForSequenceClassification(ModelConfig config) =>
        Classifiers.TryGetValue(config.ModelType, out var create) ? create(config)
        : throw new ModelLoadException("config.json", $"model_type '{config.ModelType}' has no sequence-classification head here. Supported: {string.Join(", ", SupportedClassifiers)}.");

    /// <summary>The config.json reader for families whose keys differ from Llama's; null for Llama-style ones.</summary>
    internal static IConfigFormat? ConfigFormat(string modelType) => ConfigFormats.GetValueOrDefault(modelType);
}
