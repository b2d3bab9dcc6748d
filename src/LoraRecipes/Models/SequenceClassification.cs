using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>
/// A model with a sequence-classification head (HF <c>*ForSequenceClassification</c>): token ids and an
/// attention mask in, one row of class logits per sequence out.
/// </summary>
public interface ISequenceClassifier
{
    /// <summary>Class names by id, from config.json <c>id2label</c>.</summary>
    IReadOnlyList<string> Labels { get; }

    /// <summary>
    /// Module paths of the head (<c>classifier</c>, <c>pre_classifier</c>, <c>score</c>, …): fully trained, listed
    /// in PEFT's <c>modules_to_save</c>, never LoRA-wrapped, and saved as
    /// <c>base_model.model.&lt;path&gt;.weight|bias</c> (see <see cref="SequenceClassification.HeadTensors"/>).
    /// </summary>
    IReadOnlyList<string> HeadModules { get; }

    /// <summary>Logits (B, num_labels) for ids (B, T) and a mask (B, T) that is 1 on tokens and 0 on padding.</summary>
    Tensor Classify(Tensor inputIds, Tensor attentionMask);
}

/// <summary>Helpers shared by the classification heads.</summary>
public static class SequenceClassification
{
    /// <summary>
    /// The head's parameters under PEFT's saved <c>modules_to_save</c> names. In memory PEFT holds
    /// <c>classifier.modules_to_save.default.weight</c>; on save it drops <c>modules_to_save.</c> and the adapter
    /// name, so the file says <c>base_model.model.classifier.weight</c>.
    /// </summary>
    /// <remarks><paramref name="prefix"/>: PEFT's <c>base_model.model.</c>, or <c>base_model.</c> for a prompt-learning adapter.</remarks>
    public static SortedDictionary<string, Tensor> HeadTensors(nn.Module model, IEnumerable<string> headModules, string prefix = Artifacts.AdapterKeys.Prefix)
    {
        var heads = headModules.ToList();
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in model.named_parameters())
        {
            if (heads.Any(h => name.StartsWith(h + ".", StringComparison.Ordinal)))
                tensors[prefix + name] = p.detach().cpu().to(ScalarType.Float32).contiguous();
        }
        return tensors;
    }

    /// <summary>Parameters in the head modules (trained in full; PEFT counts them in its trainable parameters).</summary>
    public static long HeadParameterCount(nn.Module model, IEnumerable<string> headModules)
    {
        var heads = headModules.ToList();
        return model.named_parameters().Where(p => heads.Any(h => p.name.StartsWith(h + ".", StringComparison.Ordinal))).Sum(p => p.parameter.numel());
    }

    /// <summary>(B, T) 1/0 padding mask → (B, 1, 1, T) boolean key mask for scaled_dot_product_attention (true = attend).</summary>
    public static Tensor KeyMask(Tensor attentionMask) => attentionMask.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1);

    /// <summary>Index of the last position whose mask is 1, per row (B): where a decoder head pools.</summary>
    public static Tensor LastTokenIndex(Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        long t = attentionMask.shape[1];
        var positions = arange(t, device: attentionMask.device).unsqueeze(0);        // (1, T)
        return (positions * attentionMask.to(ScalarType.Int64)).argmax(1).MoveToOuterDisposeScope();   // (B)
    }
}

/// <summary>Reads and writes HF's <c>id2label</c> / <c>label2id</c> / <c>num_labels</c>.</summary>
public static class ClassificationLabels
{
    /// <summary>HF's <c>PretrainedConfig</c> default: two labels, LABEL_0 and LABEL_1.</summary>
    public static IReadOnlyList<string> Default { get; } = ["LABEL_0", "LABEL_1"];

    /// <summary>Labels by id; <c>id2label</c> keys must be exactly 0..n-1.</summary>
    public static IReadOnlyList<string> Read(JsonObject root, string path)
    {
        if (root["id2label"] is JsonObject map && map.Count > 0)
        {
            if (map.Count > 100_000) throw new ModelLoadException(path, "\"id2label\" has more than 100000 entries.");
            var labels = new string[map.Count];
            foreach (var (key, value) in map)
            {
                if (!int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) || id >= labels.Length)
                    throw new ModelLoadException(path, $"\"id2label\" key '{key}' is not an id in 0..{labels.Length - 1}.");
                labels[id] = value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
                    : throw new ModelLoadException(path, $"\"id2label\".\"{key}\" must be a string.");
            }
            return labels;
        }
        if (root["num_labels"] is JsonValue n && n.TryGetValue(out int count) && count is >= 1 and <= 100_000)
            return Enumerable.Range(0, count).Select(i => $"LABEL_{i}").ToArray();
        return Default;
    }

    /// <summary>Adds <c>id2label</c> and <c>label2id</c> to a config object.</summary>
    public static void Write(JsonObject root, IReadOnlyList<string> labels)
    {
        var id2label = new JsonObject();
        var label2id = new JsonObject();
        for (int i = 0; i < labels.Count; i++)
        {
            id2label[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = labels[i];
            label2id[labels[i]] = i;
        }
        root["id2label"] = id2label;
        root["label2id"] = label2id;
    }
}

/// <summary>How a family whose config.json keys differ from Llama's reads, writes and sizes its config.</summary>
internal interface IConfigFormat
{
    /// <summary>The shared <see cref="ModelConfig"/> from this family's keys; errors name the key.</summary>
    ModelConfig Read(JsonObject root, ModelConfig.ConfigReader reader);

    /// <summary>config.json as HF writes it for this family.</summary>
    JsonObject Write(ModelConfig config);

    /// <summary>Parameters a model with this config holds (for the size check and reports).</summary>
    long ParameterCount(ModelConfig config);
}
