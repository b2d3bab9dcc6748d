using System.Text.Json;

namespace LoraRecipes.Tokenization;

/// <summary>
/// Reads a Hugging Face tokenizer folder: <c>tokenizer.json</c>, else GPT-2's <c>vocab.json</c> +
/// <c>merges.txt</c>, else a SentencePiece <c>tokenizer.model</c>, else BERT's <c>vocab.txt</c>; plus the
/// optional <c>tokenizer_config.json</c>. tokenizer.json comes first because it is what transformers' fast
/// tokenizers (the default) use.
/// </summary>
internal static class TokenizerFolderReader
{
    public const string TokenizerJson = "tokenizer.json";
    public const string VocabJson = "vocab.json";
    public const string MergesTxt = "merges.txt";
    public const string TokenizerConfigJson = "tokenizer_config.json";
    public const string TokenizerModel = "tokenizer.model";
    public const string VocabTxt = "vocab.txt";
    public const string ChatTemplateJinja = "chat_template.jinja";

    public static TokenizerDefinition Read(string folder)
    {
        if (!Directory.Exists(folder)) throw new TokenizerLoadException(folder, "tokenizer folder not found");

        string tokenizerJson = Path.Combine(folder, TokenizerJson);
        string vocabJson = Path.Combine(folder, VocabJson);
        string sentencePiece = Path.Combine(folder, TokenizerModel);
        string vocabTxt = Path.Combine(folder, VocabTxt);
        string config = Path.Combine(folder, TokenizerConfigJson);
        TokenizerDefinition definition;
        if (File.Exists(tokenizerJson))
            definition = TokenizerJsonReader.Read(tokenizerJson);
        else if (File.Exists(vocabJson))
            definition = ReadGpt2Layout(vocabJson, Path.Combine(folder, MergesTxt));
        else if (File.Exists(sentencePiece))
            definition = ReadSentencePiece(sentencePiece);
        else if (File.Exists(vocabTxt))
            definition = WordPieceReader.ReadVocabTxt(vocabTxt, config);
        else
            throw new TokenizerLoadException(folder, $"no {TokenizerJson}, {VocabJson} + {MergesTxt}, {TokenizerModel} or {VocabTxt}: no tokenizer this version reads");

        if (File.Exists(config)) ReadConfig(config, definition);
        // Newer transformers save the template beside the config; that file wins, as in transformers.
        string jinja = Path.Combine(folder, ChatTemplateJinja);
        if (File.Exists(jinja)) definition.ChatTemplate = File.ReadAllText(jinja);
        return definition;
    }

    private static TokenizerDefinition ReadGpt2Layout(string vocabPath, string mergesPath)
    {
        Dictionary<string, int> vocab;
        using (JsonFile file = JsonFile.Open(vocabPath))
            vocab = TokenizerJsonReader.ReadVocab(file, file.Expect(file.Root, "$", JsonValueKind.Object), "$");

        if (!File.Exists(mergesPath)) throw new TokenizerLoadException(mergesPath, "file not found (it must sit beside vocab.json)");
        var merges = new List<(string, string)>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(mergesPath))
        {
            lineNumber++;
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            merges.Add(TokenizerJsonReader.SplitMerge(line)
                ?? throw new TokenizerLoadException(mergesPath, $"line {lineNumber}: \"{line}\" is not two tokens separated by one space"));
        }

        var definition = new TokenizerDefinition { Vocab = vocab, Merges = merges };
        for (int i = 0; i < merges.Count; i++)
        {
            (string left, string right) = merges[i];
            foreach (string token in new[] { left, right, left + right })
            {
                if (!vocab.ContainsKey(token))
                    throw new TokenizerLoadException(mergesPath, $"line {i + 1}: merge \"{left} {right}\" uses \"{token}\", which is not in vocab.json");
            }
        }
        definition.Splits.Add(TokenizerJsonReader.Gpt2Regex);
        return definition;
    }

    /// <summary>
    /// A SentencePiece model as transformers' LlamaTokenizer uses it: its control tokens are special added tokens
    /// and BOS is added by default (add_bos_token defaults to true).
    /// </summary>
    private static TokenizerDefinition ReadSentencePiece(string path)
    {
        SentencePieceModel model = SentencePieceModel.Load(path);
        var definition = new TokenizerDefinition { Vocab = [], Model = model, BosToken = model.BosToken, EosToken = model.EosToken };
        definition.AddedTokens.AddRange(model.ControlTokens);
        if (model.Vocab.TryGetValue(model.BosToken, out int bos)) definition.TemplatePrefix.Add(bos);
        return definition;
    }

    private static void ReadConfig(string path, TokenizerDefinition definition)
    {
        using JsonFile file = JsonFile.Open(path);
        JsonElement root = file.Expect(file.Root, "$", JsonValueKind.Object);
        definition.BosToken = TokenContent(file, root, "bos_token") ?? definition.BosToken;
        definition.EosToken = TokenContent(file, root, "eos_token") ?? definition.EosToken;
        definition.PadToken = TokenContent(file, root, "pad_token") ?? definition.PadToken;
        definition.AddBosToken = file.OptionalBool(root, "add_bos_token", "$");
        definition.AddEosToken = file.OptionalBool(root, "add_eos_token", "$");
        definition.ChatTemplate = ChatTemplate(file, root);
        foreach (string name in new[] { "unk_token", "sep_token", "cls_token", "mask_token" })
        {
            if (TokenContent(file, root, name) is { } content) definition.OtherSpecialTokens[name] = content;
        }
        if (JsonFile.Optional(root, "additional_special_tokens") is { ValueKind: JsonValueKind.Array } additional)
        {
            foreach (JsonElement token in additional.EnumerateArray())
            {
                string? content = token.ValueKind == JsonValueKind.String ? token.GetString()
                    : token.ValueKind == JsonValueKind.Object && token.TryGetProperty("content", out JsonElement c) && c.ValueKind == JsonValueKind.String ? c.GetString()
                    : null;
                if (content is not null) definition.AdditionalSpecialTokens.Add(content);
            }
        }
        if (JsonFile.Optional(root, "model_max_length") is { } maxLength)
        {
            double value = file.Expect(maxLength, "$.model_max_length", JsonValueKind.Number).GetDouble();
            definition.ModelMaxLength = value is > 0 and <= int.MaxValue ? (int)value : null; // HF writes 1e30 for "no limit"
        }
        if (definition.Splits is [var only] && only == TokenizerJsonReader.Gpt2Regex)
            definition.AddPrefixSpace |= file.OptionalBool(root, "add_prefix_space", "$") ?? false;
        ReadAddedTokensDecoder(file, root, definition);
    }

    /// <summary>A token given as "&lt;s&gt;" or as {"content": "&lt;s&gt;", …}.</summary>
    private static string? TokenContent(JsonFile file, JsonElement root, string name)
    {
        if (JsonFile.Optional(root, name) is not { } value) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        if (value.ValueKind == JsonValueKind.Object) return file.Required(value, "content", $"$.{name}", JsonValueKind.String).GetString();
        throw file.Error($"$.{name}", "expected a string or {\"content\": …}");
    }

    /// <summary>A single template, or the "default" entry of a list of named templates.</summary>
    private static string? ChatTemplate(JsonFile file, JsonElement root)
    {
        if (JsonFile.Optional(root, "chat_template") is not { } value) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        file.Expect(value, "$.chat_template", JsonValueKind.Array);
        foreach (JsonElement named in value.EnumerateArray())
        {
            if (file.OptionalString(named, "name", "$.chat_template[]") == "default")
                return file.OptionalString(named, "template", "$.chat_template[]");
        }
        return null;
    }

    /// <summary>Added tokens the config declares that tokenizer.json (or vocab.json) does not.</summary>
    private static void ReadAddedTokensDecoder(JsonFile file, JsonElement root, TokenizerDefinition definition)
    {
        if (JsonFile.Optional(root, "added_tokens_decoder") is not { } decoder) return;
        file.Expect(decoder, "$.added_tokens_decoder", JsonValueKind.Object);
        var known = definition.AddedTokens.Select(t => t.Id).ToHashSet();
        foreach (JsonProperty entry in decoder.EnumerateObject())
        {
            string at = $"$.added_tokens_decoder[\"{entry.Name}\"]";
            if (!int.TryParse(entry.Name, out int id) || id < 0) throw file.Error(at, "the key must be a token id");
            if (known.Contains(id)) continue;
            string content = file.Required(entry.Value, "content", at, JsonValueKind.String).GetString()!;
            definition.AddedTokens.Add(new AddedToken(id, content, file.OptionalBool(entry.Value, "special", at) ?? false));
        }
    }
}
