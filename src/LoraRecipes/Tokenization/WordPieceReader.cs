using System.Text.Json;

namespace LoraRecipes.Tokenization;

/// <summary>
/// Reads a WordPiece tokenizer (BERT, DistilBERT): the model of a tokenizer.json whose model.type is WordPiece,
/// or a slow tokenizer's <c>vocab.txt</c> (one token per line, the line number is the id) with the settings of
/// tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars and the special tokens).
/// </summary>
internal static class WordPieceReader
{
    public static TokenizerDefinition ReadTokenizerJson(JsonFile file, JsonElement model)
    {
        var vocab = TokenizerJsonReader.ReadVocab(file, file.Required(model, "vocab", "$.model", JsonValueKind.Object), "$.model.vocab");
        var definition = new TokenizerDefinition { Vocab = vocab };
        TokenizerJsonReader.ReadAddedTokens(file, definition);

        string unk = file.OptionalString(model, "unk_token", "$.model") ?? "[UNK]";
        if (!vocab.ContainsKey(unk)) throw file.Error("$.model.unk_token", $"\"{unk}\" is not in the vocabulary");
        string prefix = file.OptionalString(model, "continuing_subword_prefix", "$.model") ?? "##";
        int maxChars = JsonFile.Optional(model, "max_input_chars_per_word") is { } max ? file.Int(max, "$.model.max_input_chars_per_word") : 100;

        BertBasicTokenizer basic = ReadNormalizer(file, JsonFile.Optional(file.Root, "normalizer"));
        if (JsonFile.Optional(file.Root, "pre_tokenizer") is not { } pre
            || file.OptionalString(pre, "type", "$.pre_tokenizer") != "BertPreTokenizer")
            throw file.Error("$.pre_tokenizer", "a WordPiece model is supported with the BertPreTokenizer only");

        definition.Model = new WordPieceModel(vocab, basic, unk, prefix, maxChars);
        TokenizerJsonReader.ReadPostProcessor(file, JsonFile.Optional(file.Root, "post_processor"), "$.post_processor", definition);
        return definition;
    }

    private static BertBasicTokenizer ReadNormalizer(JsonFile file, JsonElement? normalizer)
    {
        if (normalizer is not { } n) return new BertBasicTokenizer { CleanText = false, HandleChineseChars = false, Lowercase = false, StripAccents = false };
        string type = file.Required(n, "type", "$", JsonValueKind.String).GetString()!;
        if (type != "BertNormalizer") throw file.Error("$.normalizer.type", $"\"{type}\" is not supported with a WordPiece model (supported: BertNormalizer)");
        return new BertBasicTokenizer
        {
            CleanText = file.OptionalBool(n, "clean_text", "$.normalizer") ?? true,
            HandleChineseChars = file.OptionalBool(n, "handle_chinese_chars", "$.normalizer") ?? true,
            Lowercase = file.OptionalBool(n, "lowercase", "$.normalizer") ?? true,
            StripAccents = file.OptionalBool(n, "strip_accents", "$.normalizer"),
        };
    }

    /// <summary>
    /// vocab.txt plus tokenizer_config.json as transformers' BertTokenizer reads them: lowercasing and (unless
    /// strip_accents says otherwise) accent stripping per do_lower_case (default true), CJK isolation per
    /// tokenize_chinese_chars (default true); [CLS] text [SEP] added; the special tokens split out of the text.
    /// </summary>
    public static TokenizerDefinition ReadVocabTxt(string vocabPath, string configPath)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int id = 0;
        foreach (string line in File.ReadLines(vocabPath))
        {
            string token = line.TrimEnd('\r', '\n');
            vocab.TryAdd(token, id); // transformers keeps the first of duplicate lines
            id++;
        }
        if (vocab.Count == 0) throw new TokenizerLoadException(vocabPath, "is empty");

        bool lowercase = true;
        bool? stripAccents = null;
        bool chinese = true;
        var special = new Dictionary<string, string>
        {
            ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]",
        };
        if (File.Exists(configPath))
        {
            using JsonFile config = JsonFile.Open(configPath);
            JsonElement root = config.Expect(config.Root, "$", JsonValueKind.Object);
            lowercase = config.OptionalBool(root, "do_lower_case", "$") ?? true;
            stripAccents = config.OptionalBool(root, "strip_accents", "$");
            chinese = config.OptionalBool(root, "tokenize_chinese_chars", "$") ?? true;
            foreach (string name in special.Keys.ToList())
            {
                if (JsonFile.Optional(root, name) is { } value)
                    special[name] = value.ValueKind == JsonValueKind.String ? value.GetString()! : config.Required(value, "content", $"$.{name}", JsonValueKind.String).GetString()!;
            }
        }

        string unk = special["unk_token"];
        if (!vocab.ContainsKey(unk)) throw new TokenizerLoadException(vocabPath, $"the unknown token \"{unk}\" is not in the vocabulary");
        var basic = new BertBasicTokenizer { Lowercase = lowercase, StripAccents = stripAccents, HandleChineseChars = chinese };
        var definition = new TokenizerDefinition { Vocab = vocab, Model = new WordPieceModel(vocab, basic, unk) };
        foreach (string token in special.Values.Distinct())
        {
            if (vocab.TryGetValue(token, out int tokenId)) definition.AddedTokens.Add(new AddedToken(tokenId, token, Special: true));
        }
        if (vocab.TryGetValue(special["cls_token"], out int cls)) definition.TemplatePrefix.Add(cls);
        if (vocab.TryGetValue(special["sep_token"], out int sep)) definition.TemplateSuffix.Add(sep);
        definition.PadToken = special["pad_token"];
        return definition;
    }
}
