using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LoraRecipes.Tokenization;

/// <summary>
/// Reads the parts of a tokenizer.json that make a SentencePiece-style BPE (no ByteLevel pre-tokenizer):
/// Llama 2 / Mistral v0.1 (Prepend + Replace normalizers), Mistral v0.3 (Metaspace pre-tokenizer), Gemma
/// (Replace normalizer, byte fallback).
/// </summary>
internal static class SentencePieceJsonReader
{
    public static SentencePieceBpeModel Read(JsonFile file, JsonElement model, TokenizerDefinition definition)
    {
        var settings = new SentencePieceBpeSettings
        {
            Vocab = definition.Vocab,
            Merges = definition.Merges,
            UnkToken = file.OptionalString(model, "unk_token", "$.model"),
            ByteFallback = file.OptionalBool(model, "byte_fallback", "$.model") ?? false,
            FuseUnk = file.OptionalBool(model, "fuse_unk", "$.model") ?? false,
            IgnoreMerges = definition.IgnoreMerges,
        };
        if (settings.UnkToken is { } unk && !settings.Vocab.ContainsKey(unk))
            throw file.Error("$.model.unk_token", $"\"{unk}\" is not in the vocabulary");
        ReadNormalizer(file, JsonFile.Optional(file.Root, "normalizer"), "$.normalizer", settings);
        ReadPreTokenizer(file, JsonFile.Optional(file.Root, "pre_tokenizer"), "$.pre_tokenizer", settings);
        settings.StripLeadingSpace = StripsLeadingSpace(file, JsonFile.Optional(file.Root, "decoder"));
        return new SentencePieceBpeModel(settings);
    }

    private static void ReadNormalizer(JsonFile file, JsonElement? normalizer, string path, SentencePieceBpeSettings settings)
    {
        if (normalizer is not { } n) return;
        string type = file.Required(n, "type", path, JsonValueKind.String).GetString()!;
        switch (type)
        {
            case "Sequence":
                int i = 0;
                foreach (JsonElement item in file.Required(n, "normalizers", path, JsonValueKind.Array).EnumerateArray())
                    ReadNormalizer(file, item, $"{path}.normalizers[{i++}]", settings);
                return;
            case "Prepend":
                string prefix = file.Required(n, "prepend", path, JsonValueKind.String).GetString()!;
                settings.Normalizers.Add(text => text.Length == 0 ? text : prefix + text);
                return;
            case "Replace":
                Regex pattern = TokenizerJsonReader.ReadPattern(file, n, path);
                string content = file.Required(n, "content", path, JsonValueKind.String).GetString()!;
                settings.Normalizers.Add(text => pattern.Replace(text, content.Replace("$", "$$")));
                return;
            case "NFC" or "NFKC" or "NFD" or "NFKD":
                var form = type switch { "NFC" => NormalizationForm.FormC, "NFKC" => NormalizationForm.FormKC, "NFD" => NormalizationForm.FormD, _ => NormalizationForm.FormKD };
                settings.Normalizers.Add(text => text.Normalize(form));
                return;
            default:
                throw file.Error($"{path}.type", $"normalizer \"{type}\" is not supported for SentencePiece-style BPE (supported: Prepend, Replace, NFC, NFKC, NFD, NFKD, Sequence)");
        }
    }

    private static void ReadPreTokenizer(JsonFile file, JsonElement? preTokenizer, string path, SentencePieceBpeSettings settings)
    {
        if (preTokenizer is not { } p) return;
        string type = file.Required(p, "type", path, JsonValueKind.String).GetString()!;
        switch (type)
        {
            case "Sequence":
                int i = 0;
                foreach (JsonElement item in file.Required(p, "pretokenizers", path, JsonValueKind.Array).EnumerateArray())
                    ReadPreTokenizer(file, item, $"{path}.pretokenizers[{i++}]", settings);
                return;
            case "Metaspace":
                settings.PreTokenizers.Add(Metaspace(file, p, path));
                return;
            case "Split":
                Regex pattern = TokenizerJsonReader.ReadPattern(file, p, path);
                string behavior = file.OptionalString(p, "behavior", path) ?? "Isolated";
                if (behavior is not ("Isolated" or "Removed" or "MergedWithPrevious" or "MergedWithNext"))
                    throw file.Error($"{path}.behavior", $"\"{behavior}\" is not supported (supported: Isolated, Removed, MergedWithPrevious, MergedWithNext)");
                settings.PreTokenizers.Add((text, _) => Split(pattern, text, behavior));
                return;
            default:
                throw file.Error($"{path}.type", $"pre-tokenizer \"{type}\" is not supported for SentencePiece-style BPE (supported: Metaspace, Split, Sequence)");
        }
    }

    /// <summary>
    /// HF Metaspace: spaces become the replacement; it is prepended (unless the piece already starts with it) always,
    /// or with prepend_scheme "first" only to the piece at offset 0 of the input; split cuts before each replacement.
    /// </summary>
    private static Func<string, bool, IEnumerable<string>> Metaspace(JsonFile file, JsonElement p, string path)
    {
        string replacement = file.OptionalString(p, "replacement", path) ?? "\u2581";
        string scheme = file.OptionalString(p, "prepend_scheme", path)
            ?? (file.OptionalBool(p, "add_prefix_space", path) ?? true ? "always" : "never");
        if (scheme is not ("always" or "first" or "never")) throw file.Error($"{path}.prepend_scheme", $"\"{scheme}\" is not one of always, first, never");
        bool split = file.OptionalBool(p, "split", path) ?? true;
        Regex splitter = new(Regex.Escape(replacement), RegexOptions.CultureInvariant);
        return (text, atStart) =>
        {
            text = text.Replace(" ", replacement);
            if ((scheme == "always" || (scheme == "first" && atStart)) && !text.StartsWith(replacement, StringComparison.Ordinal))
                text = replacement + text;
            return split ? Split(splitter, text, "MergedWithNext") : [text];
        };
    }

    /// <summary>HF's split behaviours: matches kept alone, dropped, or joined to the piece before or after them.</summary>
    public static List<string> Split(Regex regex, string text, string behavior)
    {
        var pieces = new List<string>();
        int start = 0;
        bool carry = false; // MergedWithNext: the last piece is a match waiting for what follows
        foreach (Match m in regex.Matches(text))
        {
            if (m.Length == 0) continue;
            string gap = text[start..m.Index];
            switch (behavior)
            {
                case "Isolated":
                    if (gap.Length > 0) pieces.Add(gap);
                    pieces.Add(m.Value);
                    break;
                case "Removed":
                    if (gap.Length > 0) pieces.Add(gap);
                    break;
                case "MergedWithPrevious":
                    pieces.Add(gap + m.Value);
                    break;
                default: // MergedWithNext
                    if (carry) pieces[^1] += gap;
                    else if (gap.Length > 0) pieces.Add(gap);
                    pieces.Add(m.Value);
                    carry = true;
                    break;
            }
            start = m.Index + m.Length;
        }
        string rest = text[start..];
        if (carry) pieces[^1] += rest;
        else if (rest.Length > 0) pieces.Add(rest);
        return pieces;
    }

    /// <summary>Llama 2's decoder ends with Strip(" ", 1, 0); a Metaspace decoder that prepends removes it too.</summary>
    private static bool StripsLeadingSpace(JsonFile file, JsonElement? decoder)
    {
        if (decoder is not { ValueKind: JsonValueKind.Object } d) return false;
        return file.OptionalString(d, "type", "$.decoder") switch
        {
            "Sequence" => JsonFile.Optional(d, "decoders") is { ValueKind: JsonValueKind.Array } list && list.EnumerateArray().Any(item => StripsLeadingSpace(file, item)),
            "Strip" => JsonFile.Optional(d, "start") is { ValueKind: JsonValueKind.Number } start && start.GetInt32() > 0,
            "Metaspace" => (file.OptionalString(d, "prepend_scheme", "$.decoder") ?? (file.OptionalBool(d, "add_prefix_space", "$.decoder") ?? true ? "always" : "never")) != "never",
            _ => false,
        };
    }
}
