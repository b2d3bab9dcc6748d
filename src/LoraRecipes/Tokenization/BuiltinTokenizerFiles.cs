using System.Text.Json;

namespace LoraRecipes.Tokenization;

/// <summary>The JSON layouts of the builtin tokenizer's files, following what HF tokenizers and transformers write for Llama 3.</summary>
internal static class BuiltinTokenizerFiles
{
    public static void WriteTokenizerJson(Utf8JsonWriter w, BpeVocabulary bpe, int firstSpecial)
    {
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        for (int i = 0; i < BuiltinTokenizer.SpecialTokens.Count; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("id", firstSpecial + i);
            w.WriteString("content", BuiltinTokenizer.SpecialTokens[i]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("normalizer");
        WritePreTokenizer(w);
        WritePostProcessor(w, firstSpecial);
        w.WriteStartObject("decoder");
        WriteByteLevel(w, addPrefixSpace: true, useRegex: true);
        w.WriteEndObject();
        WriteModel(w, bpe);
        w.WriteEndObject();
    }

    public static void WriteTokenizerConfig(Utf8JsonWriter w, int firstSpecial)
    {
        w.WriteStartObject();
        w.WriteBoolean("add_bos_token", true);
        w.WriteBoolean("add_eos_token", false);
        w.WriteStartObject("added_tokens_decoder");
        for (int i = 0; i < BuiltinTokenizer.SpecialTokens.Count; i++)
        {
            w.WriteStartObject((firstSpecial + i).ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("content", BuiltinTokenizer.SpecialTokens[i]);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteString("bos_token", BuiltinTokenizer.BosToken);
        w.WriteString("chat_template", BuiltinTokenizer.ChatTemplate);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        w.WriteString("eos_token", BuiltinTokenizer.EosToken);
        w.WriteStartArray("model_input_names");
        w.WriteStringValue("input_ids");
        w.WriteStringValue("attention_mask");
        w.WriteEndArray();
        w.WriteNumber("model_max_length", BuiltinTokenizer.ModelMaxLength);
        w.WriteString("pad_token", BuiltinTokenizer.PadToken);
        w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        w.WriteEndObject();
    }

    public static void WriteSpecialTokensMap(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartArray("additional_special_tokens");
        foreach (string token in BuiltinTokenizer.SpecialTokens.Skip(3)) w.WriteStringValue(token);
        w.WriteEndArray();
        w.WriteString("bos_token", BuiltinTokenizer.BosToken);
        w.WriteString("eos_token", BuiltinTokenizer.EosToken);
        w.WriteString("pad_token", BuiltinTokenizer.PadToken);
        w.WriteEndObject();
    }

    private static void WritePreTokenizer(Utf8JsonWriter w)
    {
        w.WriteStartObject("pre_tokenizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        w.WriteStartObject();
        w.WriteString("type", "Split");
        w.WriteStartObject("pattern");
        w.WriteString("Regex", BuiltinTokenizer.SplitPattern);
        w.WriteEndObject();
        w.WriteString("behavior", "Isolated");
        w.WriteBoolean("invert", false);
        w.WriteEndObject();
        w.WriteStartObject();
        WriteByteLevel(w, addPrefixSpace: false, useRegex: false);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Llama 3's template: BOS before each sequence.</summary>
    private static void WritePostProcessor(Utf8JsonWriter w, int bosId)
    {
        w.WriteStartObject("post_processor");
        w.WriteString("type", "TemplateProcessing");
        w.WriteStartArray("single");
        WriteTemplatePiece(w, "SpecialToken", BuiltinTokenizer.BosToken, 0);
        WriteTemplatePiece(w, "Sequence", "A", 0);
        w.WriteEndArray();
        w.WriteStartArray("pair");
        WriteTemplatePiece(w, "SpecialToken", BuiltinTokenizer.BosToken, 0);
        WriteTemplatePiece(w, "Sequence", "A", 0);
        WriteTemplatePiece(w, "SpecialToken", BuiltinTokenizer.BosToken, 1);
        WriteTemplatePiece(w, "Sequence", "B", 1);
        w.WriteEndArray();
        w.WriteStartObject("special_tokens");
        w.WriteStartObject(BuiltinTokenizer.BosToken);
        w.WriteString("id", BuiltinTokenizer.BosToken);
        w.WriteStartArray("ids");
        w.WriteNumberValue(bosId);
        w.WriteEndArray();
        w.WriteStartArray("tokens");
        w.WriteStringValue(BuiltinTokenizer.BosToken);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteTemplatePiece(Utf8JsonWriter w, string kind, string id, int typeId)
    {
        w.WriteStartObject();
        w.WriteStartObject(kind);
        w.WriteString("id", id);
        w.WriteNumber("type_id", typeId);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, bool addPrefixSpace, bool useRegex)
    {
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", addPrefixSpace);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", useRegex);
    }

    private static void WriteModel(Utf8JsonWriter w, BpeVocabulary bpe)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int id = 0; id < bpe.Tokens.Count; id++) w.WriteNumber(bpe.Tokens[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach ((string left, string right) in bpe.Merges) w.WriteStringValue(left + " " + right);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
