using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LoraRecipes.Tokenization;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c>: model vocabulary and merges, added tokens, normalizer, pre-tokenizer
/// splits and the post-processor template. Byte-level BPE (GPT-2, Llama 3, Qwen) is read here; SentencePiece-style
/// BPE and WordPiece models are handed to <see cref="SentencePieceJsonReader"/> and <see cref="WordPieceReader"/>.
/// </summary>
internal static class TokenizerJsonReader
{
    /// <summary>GPT-2's split regex, used by a ByteLevel pre-tokenizer with <c>use_regex: true</c>.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static readonly Regex Gpt2Regex = CompileSplit(Gpt2Pattern);

    /// <summary>Compiles a split regex the way every tokenizer uses it.</summary>
    public static Regex CompileSplit(string pattern) => new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    public static TokenizerDefinition Read(string path)
    {
        using JsonFile file = JsonFile.Open(path);
        JsonElement model = file.Required(file.Root, "model", "$", JsonValueKind.Object);
        string type = file.OptionalString(model, "type", "$.model") ?? "BPE";
        if (type == "WordPiece") return WordPieceReader.ReadTokenizerJson(file, model);
        if (type != "BPE") throw file.Error("$.model.type", $"\"{type}\" is not supported (supported: BPE, WordPiece)");
        CheckModel(file, model);

        JsonElement vocabJson = file.Required(model, "vocab", "$.model", JsonValueKind.Object);
        JsonElement mergesJson = file.Required(model, "merges", "$.model", JsonValueKind.Array);
        var definition = new TokenizerDefinition
        {
            Vocab = ReadVocab(file, vocabJson, "$.model.vocab"),
            Merges = ReadMerges(file, mergesJson, "$.model.merges"),
            IgnoreMerges = file.OptionalBool(model, "ignore_merges", "$.model") ?? false,
        };
        ValidateMerges(file, definition, "$.model.merges");
        ReadAddedTokens(file, definition);
        if (!HasByteLevel(file, JsonFile.Optional(file.Root, "pre_tokenizer")))
        {
            // No byte-level alphabet: SentencePiece-style BPE (Llama 2, Mistral, Gemma) with ▁ for spaces.
            definition.Model = SentencePieceJsonReader.Read(file, model, definition);
        }
        else
        {
            definition.Normalization = ReadNormalizer(file, JsonFile.Optional(file.Root, "normalizer"), "$.normalizer");
            ReadPreTokenizer(file, JsonFile.Optional(file.Root, "pre_tokenizer"), "$.pre_tokenizer", definition);
        }
        ReadPostProcessor(file, JsonFile.Optional(file.Root, "post_processor"), "$.post_processor", definition);
        return definition;
    }

    private static bool HasByteLevel(JsonFile file, JsonElement? preTokenizer)
    {
        if (preTokenizer is not { ValueKind: JsonValueKind.Object } p) return false;
        string? type = file.OptionalString(p, "type", "$.pre_tokenizer");
        return type == "ByteLevel"
            || (type == "Sequence" && JsonFile.Optional(p, "pretokenizers") is { ValueKind: JsonValueKind.Array } list
                && list.EnumerateArray().Any(item => HasByteLevel(file, item)));
    }

    public static Dictionary<string, int> ReadVocab(JsonFile file, JsonElement vocabJson, string path)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var seenIds = new Dictionary<int, string>();
        foreach (JsonProperty entry in vocabJson.EnumerateObject())
        {
            int id = file.Int(entry.Value, $"{path}[\"{entry.Name}\"]");
            if (seenIds.TryGetValue(id, out string? other))
                throw file.Error($"{path}[\"{entry.Name}\"]", $"id {id} is already used by \"{other}\"");
            if (!vocab.TryAdd(entry.Name, id)) throw file.Error($"{path}[\"{entry.Name}\"]", "appears twice");
            seenIds[id] = entry.Name;
        }
        if (vocab.Count == 0) throw file.Error(path, "is empty");
        return vocab;
    }

    public static void ValidateMerges(JsonFile file, TokenizerDefinition definition, string path)
    {
        for (int i = 0; i < definition.Merges.Count; i++)
        {
            (string left, string right) = definition.Merges[i];
            foreach (string token in new[] { left, right, left + right })
            {
                if (!definition.Vocab.ContainsKey(token))
                    throw file.Error($"{path}[{i}]", $"merge \"{left} {right}\" uses \"{token}\", which is not in the vocabulary");
            }
        }
    }

    private static void CheckModel(JsonFile file, JsonElement model)
    {
        foreach (string name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (!string.IsNullOrEmpty(file.OptionalString(model, name, "$.model")))
                throw file.Error($"$.model.{name}", "is not supported by the BPE loader");
        }
        if (JsonFile.Optional(model, "dropout") is { ValueKind: JsonValueKind.Number } dropout && dropout.GetDouble() != 0)
            throw file.Error("$.model.dropout", "BPE dropout is a training-time option and is not supported");
    }

    private static List<(string, string)> ReadMerges(JsonFile file, JsonElement mergesJson, string path)
    {
        var merges = new List<(string, string)>(mergesJson.GetArrayLength());
        int i = 0;
        foreach (JsonElement merge in mergesJson.EnumerateArray())
        {
            string at = $"{path}[{i++}]";
            if (merge.ValueKind == JsonValueKind.String)
            {
                merges.Add(SplitMerge(merge.GetString()!) ?? throw file.Error(at, $"\"{merge.GetString()}\" is not two tokens separated by one space"));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                merges.Add((merge[0].GetString()!, merge[1].GetString()!));
            }
            else
            {
                throw file.Error(at, $"expected \"left right\" or [\"left\", \"right\"], found {merge.GetRawText()}");
            }
        }
        return merges;
    }

    /// <summary>Splits a legacy "left right" merge line; null when it is not exactly two non-empty parts.</summary>
    public static (string, string)? SplitMerge(string line)
    {
        int space = line.IndexOf(' ');
        if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0) return null;
        return (line[..space], line[(space + 1)..]);
    }

    public static void ReadAddedTokens(JsonFile file, TokenizerDefinition definition)
    {
        if (JsonFile.Optional(file.Root, "added_tokens") is not { } added) return;
        file.Expect(added, "$.added_tokens", JsonValueKind.Array);
        int i = 0;
        foreach (JsonElement token in added.EnumerateArray())
        {
            string at = $"$.added_tokens[{i++}]";
            int id = file.Int(file.Required(token, "id", at, JsonValueKind.Number), $"{at}.id");
            string content = file.Required(token, "content", at, JsonValueKind.String).GetString()!;
            if (content.Length == 0) throw file.Error($"{at}.content", "is empty");
            definition.AddedTokens.Add(new AddedToken(id, content, file.OptionalBool(token, "special", at) ?? false));
        }
    }

    private static NormalizationForm? ReadNormalizer(JsonFile file, JsonElement? normalizer, string path)
    {
        if (normalizer is not { } n) return null;
        string type = file.Required(n, "type", path, JsonValueKind.String).GetString()!;
        switch (type)
        {
            case "NFC": return NormalizationForm.FormC;
            case "NFKC": return NormalizationForm.FormKC;
            case "NFD": return NormalizationForm.FormD;
            case "NFKD": return NormalizationForm.FormKD;
            case "Sequence":
                JsonElement list = file.Required(n, "normalizers", path, JsonValueKind.Array);
                NormalizationForm? form = null;
                int i = 0;
                foreach (JsonElement item in list.EnumerateArray())
                {
                    NormalizationForm? next = ReadNormalizer(file, item, $"{path}.normalizers[{i++}]");
                    if (next is not null && form is not null && next != form)
                        throw file.Error(path, "chains two different Unicode normalizations, which is not supported");
                    form ??= next;
                }
                return form;
            default:
                throw file.Error($"{path}.type", $"normalizer \"{type}\" is not supported (supported: NFC, NFKC, NFD, NFKD, Sequence)");
        }
    }

    /// <summary>Collects the split regexes; true when a ByteLevel pre-tokenizer was seen.</summary>
    private static bool ReadPreTokenizer(JsonFile file, JsonElement? preTokenizer, string path, TokenizerDefinition definition)
    {
        if (preTokenizer is not { } p) return false;
        string type = file.Required(p, "type", path, JsonValueKind.String).GetString()!;
        switch (type)
        {
            case "ByteLevel":
                definition.AddPrefixSpace |= file.OptionalBool(p, "add_prefix_space", path) ?? false;
                if (file.OptionalBool(p, "use_regex", path) ?? true) definition.Splits.Add(Gpt2Regex);
                return true;
            case "Split":
                definition.Splits.Add(ReadSplit(file, p, path));
                return false;
            case "Sequence":
                JsonElement list = file.Required(p, "pretokenizers", path, JsonValueKind.Array);
                bool byteLevel = false;
                int i = 0;
                foreach (JsonElement item in list.EnumerateArray())
                    byteLevel |= ReadPreTokenizer(file, item, $"{path}.pretokenizers[{i++}]", definition);
                return byteLevel;
            default:
                throw file.Error($"{path}.type", $"pre-tokenizer \"{type}\" is not supported (supported: ByteLevel, Split, Sequence)");
        }
    }

    private static Regex ReadSplit(JsonFile file, JsonElement split, string path)
    {
        string behavior = file.OptionalString(split, "behavior", path) ?? "Isolated";
        if (behavior != "Isolated") throw file.Error($"{path}.behavior", $"\"{behavior}\" is not supported (only Isolated)");
        return ReadPattern(file, split, path);
    }

    /// <summary>A Split's or Replace's pattern, {"Regex": …} or {"String": …}, as a .NET regex.</summary>
    public static Regex ReadPattern(JsonFile file, JsonElement split, string path)
    {
        if (file.OptionalBool(split, "invert", path) == true) throw file.Error($"{path}.invert", "inverted splits are not supported");
        JsonElement pattern = file.Required(split, "pattern", path, JsonValueKind.Object);
        string source = file.OptionalString(pattern, "Regex", $"{path}.pattern")
            ?? (file.OptionalString(pattern, "String", $"{path}.pattern") is { } literal ? Regex.Escape(literal) : null)
            ?? throw file.Error($"{path}.pattern", "expected {\"Regex\": …} or {\"String\": …}");
        try
        {
            return CompileSplit(source);
        }
        catch (ArgumentException e)
        {
            throw file.Error($"{path}.pattern", $"the regex does not compile in .NET ({e.Message}); possessive quantifiers such as ?+ and ++ are not supported");
        }
    }

    public static void ReadPostProcessor(JsonFile file, JsonElement? processor, string path, TokenizerDefinition definition)
    {
        if (processor is not { } p) return;
        string type = file.Required(p, "type", path, JsonValueKind.String).GetString()!;
        switch (type)
        {
            case "ByteLevel":
                return;
            case "Sequence":
                int i = 0;
                foreach (JsonElement item in file.Required(p, "processors", path, JsonValueKind.Array).EnumerateArray())
                    ReadPostProcessor(file, item, $"{path}.processors[{i++}]", definition);
                return;
            case "TemplateProcessing":
                ReadTemplate(file, p, path, definition);
                return;
            case "RobertaProcessing" or "BertProcessing":
                definition.TemplatePrefix.Add(file.Int(file.Required(p, "cls", path, JsonValueKind.Array)[1], $"{path}.cls[1]"));
                definition.TemplateSuffix.Add(file.Int(file.Required(p, "sep", path, JsonValueKind.Array)[1], $"{path}.sep[1]"));
                return;
            default:
                throw file.Error($"{path}.type", $"post-processor \"{type}\" is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence)");
        }
    }

    /// <summary>The single-sequence template: special tokens before the "A" sequence are the prefix, after it the suffix.</summary>
    private static void ReadTemplate(JsonFile file, JsonElement template, string path, TokenizerDefinition definition)
    {
        JsonElement single = file.Required(template, "single", path, JsonValueKind.Array);
        JsonElement specials = JsonFile.Optional(template, "special_tokens") ?? default;
        bool seenSequence = false;
        int i = 0;
        foreach (JsonElement piece in single.EnumerateArray())
        {
            string at = $"{path}.single[{i++}]";
            if (JsonFile.Optional(piece, "Sequence") is not null)
            {
                seenSequence = true;
                continue;
            }
            JsonElement special = file.Required(piece, "SpecialToken", at, JsonValueKind.Object);
            string name = file.Required(special, "id", $"{at}.SpecialToken", JsonValueKind.String).GetString()!;
            List<int> target = seenSequence ? definition.TemplateSuffix : definition.TemplatePrefix;
            target.AddRange(SpecialTokenIds(file, specials, name, path, definition));
        }
    }

    private static IEnumerable<int> SpecialTokenIds(JsonFile file, JsonElement specials, string name, string path, TokenizerDefinition definition)
    {
        if (JsonFile.Optional(specials, name) is { } entry)
        {
            string at = $"{path}.special_tokens[\"{name}\"]";
            return file.Required(entry, "ids", at, JsonValueKind.Array).EnumerateArray().Select((id, k) => file.Int(id, $"{at}.ids[{k}]")).ToList();
        }
        AddedToken? added = definition.AddedTokens.Find(t => t.Content == name);
        if (added is not null) return [added.Id];
        if (definition.Vocab.TryGetValue(name, out int id)) return [id];
        throw file.Error($"{path}.special_tokens", $"does not define \"{name}\", which the template uses");
    }
}
