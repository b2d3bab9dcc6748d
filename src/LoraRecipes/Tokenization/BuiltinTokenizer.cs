using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LoraRecipes.Tokenization;

/// <summary>
/// The tokenizer of the embedded default model <c>builtin:tiny-llama</c>: a genuine byte-level BPE
/// (Llama 3 layout) learned by <see cref="BpeTrainer"/> from a small embedded English and Chinese corpus,
/// written as Hugging Face files so it loads through the same code as any real checkpoint.
/// </summary>
/// <remarks>
/// Ids 0..255 are the bytes (GPT-2 order), then the learned merges up to id 2039, then the eight special
/// tokens 2040..2047 (<see cref="SpecialTokens"/>, in order). Output is byte-identical on every run and
/// platform; change <see cref="Version"/> whenever the corpus, the trainer or the file layout changes.
/// </remarks>
public static class BuiltinTokenizer
{
    /// <summary>Identifies the files <see cref="WriteTo"/> produces; part of the builtin model's fingerprint.</summary>
    public const string Version = "tiny-bpe-2048.1";

    /// <summary>Total ids, special tokens included.</summary>
    public const int VocabSize = 2048;

    public const string BosToken = "<|begin_of_text|>";
    public const string EosToken = "<|end_of_text|>";
    public const string PadToken = "<|pad|>";

    /// <summary>The special tokens, in id order, after the learned vocabulary.</summary>
    public static IReadOnlyList<string> SpecialTokens { get; } =
    [
        BosToken, EosToken, PadToken, "<|im_start|>", "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    ];

    /// <summary>Llama 3's split regex (.NET needs no possessive quantifiers for it).</summary>
    public const string SplitPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>ChatML, as Qwen uses it.</summary>
    public const string ChatTemplate =
        "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}"
        + "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    public const int ModelMaxLength = 2048;

    private const string CorpusResource = "LoraRecipes.Tokenization.BuiltinCorpus.txt";
    private static readonly Lazy<IReadOnlyDictionary<string, byte[]>> Files = new(Render);

    /// <summary>Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into <paramref name="folder"/>.</summary>
    public static void WriteTo(string folder)
    {
        Directory.CreateDirectory(folder);
        foreach ((string name, byte[] content) in Files.Value)
        {
            // temp + rename: a killed process never leaves a torn file that a later run would trust.
            string target = Path.Combine(folder, name);
            string temp = target + $".{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temp, content);
            File.Move(temp, target, overwrite: true);
        }
    }

    /// <summary>Trains and renders the three files from scratch (no cache).</summary>
    internal static IReadOnlyDictionary<string, byte[]> Render()
    {
        BpeVocabulary bpe = BpeTrainer.Train([ReadCorpus()], TokenizerJsonReader.CompileSplit(SplitPattern), VocabSize - SpecialTokens.Count);
        if (bpe.Tokens.Count != VocabSize - SpecialTokens.Count)
            throw new InvalidOperationException($"The builtin corpus yields only {bpe.Tokens.Count} tokens; it must give {VocabSize - SpecialTokens.Count}.");
        int firstSpecial = bpe.Tokens.Count;

        return new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["tokenizer.json"] = Json(w => BuiltinTokenizerFiles.WriteTokenizerJson(w, bpe, firstSpecial)),
            ["tokenizer_config.json"] = Json(w => BuiltinTokenizerFiles.WriteTokenizerConfig(w, firstSpecial)),
            ["special_tokens_map.json"] = Json(BuiltinTokenizerFiles.WriteSpecialTokensMap),
        };
    }

    /// <summary>The embedded training text, with line endings normalized so a CRLF checkout trains the same vocabulary.</summary>
    internal static string ReadCorpus()
    {
        using Stream stream = typeof(BuiltinTokenizer).Assembly.GetManifestResourceStream(CorpusResource)
            ?? throw new InvalidOperationException($"Embedded resource {CorpusResource} is missing.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd().Replace("\r\n", "\n");
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        var options = new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var writer = new Utf8JsonWriter(buffer, options)) write(writer);
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
