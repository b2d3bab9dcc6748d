using System.Text;
using System.Text.RegularExpressions;

namespace LoraRecipes.Tokenization;

/// <summary>An added token (<c>added_tokens</c> in tokenizer.json, <c>added_tokens_decoder</c> in tokenizer_config.json).</summary>
internal sealed record AddedToken(int Id, string Content, bool Special);

/// <summary>
/// Everything a tokenizer folder says, parsed and validated, before any tokenizer is built.
/// For byte-level BPE (<see cref="Model"/> null) vocabulary keys and merges are byte-level strings
/// (GPT-2's bytes_to_unicode alphabet) and the split/normalization settings below apply; other families
/// come with their <see cref="Model"/> already built.
/// </summary>
internal sealed class TokenizerDefinition
{
    public required Dictionary<string, int> Vocab { get; init; }
    public List<(string Left, string Right)> Merges { get; init; } = [];

    /// <summary>The SentencePiece or WordPiece model; null for byte-level BPE, built from the fields below.</summary>
    public TokenModel? Model { get; set; }
    public List<AddedToken> AddedTokens { get; } = [];

    /// <summary>Split regexes applied one after the other, each keeping matches and gaps ("Isolated").</summary>
    public List<Regex> Splits { get; } = [];
    public bool AddPrefixSpace { get; set; }
    public bool IgnoreMerges { get; set; }
    public NormalizationForm? Normalization { get; set; }

    /// <summary>Tokens the post-processor puts before and after a single sequence.</summary>
    public List<int> TemplatePrefix { get; } = [];
    public List<int> TemplateSuffix { get; } = [];

    public string? BosToken { get; set; }
    public string? EosToken { get; set; }
    public string? PadToken { get; set; }
    public bool? AddBosToken { get; set; }
    public bool? AddEosToken { get; set; }
    public string? ChatTemplate { get; set; }

    /// <summary>unk/sep/cls/mask tokens of tokenizer_config.json (bos/eos/pad have their own fields), for chat templates.</summary>
    public Dictionary<string, string> OtherSpecialTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>additional_special_tokens of tokenizer_config.json.</summary>
    public List<string> AdditionalSpecialTokens { get; } = [];
    public int? ModelMaxLength { get; set; }
}
