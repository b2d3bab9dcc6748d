using LoraRecipes.Recipes;
using LoraRecipes.Tokenization;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// The settings a prompt-learning method needs (the recipe's <c>prompt_tuning:</c> or <c>p_tuning:</c> block), with
/// <c>init_text</c> already tokenized.
/// </summary>
/// <param name="Method"><see cref="AdapterMethod.PromptTuning"/> or <see cref="AdapterMethod.PTuning"/>.</param>
/// <param name="NumVirtualTokens">n, PEFT's <c>num_virtual_tokens</c> (× <c>num_transformer_submodules</c> = 1 here).</param>
/// <param name="InitTokenIds">Prompt tuning, init: text — the tokens of init_text as HF's tokenizer(init_text) gives them (special tokens included); null: random.</param>
/// <param name="InitText">The init text itself (for the config).</param>
/// <param name="Encoder">P-tuning's encoder type.</param>
/// <param name="EncoderHiddenSize">P-tuning's encoder width; null: the model's hidden size.</param>
/// <param name="EncoderNumLayers">P-tuning's LSTM layers.</param>
/// <param name="EncoderDropout">P-tuning's dropout between LSTM layers.</param>
/// <param name="Generator">The run's random stream for initialisation and dropout.</param>
/// <param name="PrefixProjection">Prefix tuning: re-parameterise the prefix by PEFT's projection MLP (hidden width <paramref name="EncoderHiddenSize"/>).</param>
public sealed record PromptLearningSettings(AdapterMethod Method, int NumVirtualTokens, IReadOnlyList<int>? InitTokenIds = null, string? InitText = null,
    PromptEncoderType Encoder = PromptEncoderType.Mlp, int? EncoderHiddenSize = null, int EncoderNumLayers = 2, double EncoderDropout = 0, Generator? Generator = null,
    bool PrefixProjection = false)
{
    /// <summary>True for the recipe methods this record serves: PEFT's prompt-learning types (one <c>prompt_embeddings</c> tensor, nothing merges).</summary>
    public static bool IsPromptMethod(AdapterMethod method) => method is AdapterMethod.PromptTuning or AdapterMethod.PTuning or AdapterMethod.PrefixTuning;

    /// <summary>The recipe's block; <paramref name="tokenizer"/> tokenizes prompt tuning's init_text (null: init text is refused).</summary>
    public static PromptLearningSettings Resolve(Recipe recipe, TextTokenizer? tokenizer, Generator? generator)
    {
        if (recipe.Method == AdapterMethod.PrefixTuning)
        {
            var x = recipe.PrefixTuning;
            return new PromptLearningSettings(AdapterMethod.PrefixTuning, x.NumVirtualTokens, EncoderHiddenSize: x.EncoderHiddenSize, Generator: generator,
                PrefixProjection: x.PrefixProjection);
        }
        if (recipe.Method == AdapterMethod.PTuning)
        {
            var p = recipe.PTuning;
            return new PromptLearningSettings(AdapterMethod.PTuning, p.NumVirtualTokens, null, null, p.Encoder, p.EncoderHiddenSize, p.EncoderNumLayers, p.EncoderDropout, generator);
        }
        var t = recipe.PromptTuning;
        if (t.Init != PromptTuningInit.Text) return new PromptLearningSettings(AdapterMethod.PromptTuning, t.NumVirtualTokens, Generator: generator);
        string text = t.InitText is { Length: > 0 } s ? s
            : throw new LoraTargetException("prompt_tuning.init is text but prompt_tuning.init_text is empty; give the text, or use init: random.");
        var ids = tokenizer?.Encode(text, addSpecialTokens: true)
            ?? throw new LoraTargetException("prompt_tuning.init: text needs the model's tokenizer.");
        if (ids.Count == 0) throw new LoraTargetException($"prompt_tuning.init_text \"{text}\" gives no tokens; use a longer text or init: random.");
        return new PromptLearningSettings(AdapterMethod.PromptTuning, t.NumVirtualTokens, ids, text, Generator: generator);
    }

    /// <summary>
    /// PEFT's TEXT init: the token ids repeated ⌈n / len⌉ times and cut to n (a text longer than n is cut to its first n).
    /// </summary>
    public static int[] RepeatToLength(IReadOnlyList<int> ids, int n) =>
        Enumerable.Range(0, n).Select(i => ids[i % ids.Count]).ToArray();
}
