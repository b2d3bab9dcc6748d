using System.Globalization;
using System.Text;

namespace LoraRecipes.Tokenization;

/// <summary>
/// BERT's text clean-up and word splitting (HF <c>BertNormalizer</c> + <c>BertPreTokenizer</c>, the slow
/// tokenizer's <c>BasicTokenizer</c>): control characters dropped and whitespace made a space, CJK ideographs
/// isolated, optional accent stripping (NFD, then drop non-spacing marks) and lowercasing, then words split on
/// whitespace with every punctuation character its own word.
/// </summary>
internal sealed class BertBasicTokenizer
{
    public bool CleanText { get; init; } = true;
    public bool HandleChineseChars { get; init; } = true;
    public bool Lowercase { get; init; } = true;

    /// <summary>Null follows <see cref="Lowercase"/>, as in HF.</summary>
    public bool? StripAccents { get; init; }

    public List<string> Split(string text) => PreTokenize(Normalize(text));

    public string Normalize(string text)
    {
        var b = new StringBuilder(text.Length + 8);
        foreach (Rune rune in text.EnumerateRunes())
        {
            int c = rune.Value;
            if (CleanText)
            {
                if (c == 0 || c == 0xFFFD || IsControl(rune)) continue;
                if (IsWhitespace(rune))
                {
                    b.Append(' ');
                    continue;
                }
            }
            if (HandleChineseChars && IsChineseChar(c)) b.Append(' ').Append(rune.ToString()).Append(' ');
            else b.Append(rune.ToString());
        }
        string result = b.ToString();
        if (StripAccents ?? Lowercase) result = RemoveAccents(result);
        // Rust's char::to_lowercase is the full Unicode mapping; .NET's invariant lowering differs only for a few letters (İ).
        if (Lowercase) result = result.ToLowerInvariant();
        return result;
    }

    /// <summary>Splits on whitespace (dropped) and isolates each punctuation character.</summary>
    public static List<string> PreTokenize(string text)
    {
        var words = new List<string>();
        int start = -1;
        int i = 0;
        while (i < text.Length)
        {
            Rune rune = Rune.GetRuneAt(text, i);
            int width = rune.Utf16SequenceLength;
            if (Rune.IsWhiteSpace(rune) || IsPunctuation(rune))
            {
                if (start >= 0) words.Add(text[start..i]);
                start = -1;
                if (!Rune.IsWhiteSpace(rune)) words.Add(text.Substring(i, width));
            }
            else if (start < 0)
            {
                start = i;
            }
            i += width;
        }
        if (start >= 0) words.Add(text[start..]);
        return words;
    }

    private static string RemoveAccents(string text)
    {
        string decomposed = text.Normalize(NormalizationForm.FormD);
        var b = new StringBuilder(decomposed.Length);
        foreach (Rune rune in decomposed.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) b.Append(rune.ToString());
        }
        return b.ToString();
    }

    /// <summary>Tab, newline and carriage return count as whitespace, not control (HF <c>is_control</c>).</summary>
    private static bool IsControl(Rune rune) => rune.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(rune) is
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned
        or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    private static bool IsWhitespace(Rune rune) => rune.Value is '\t' or '\n' or '\r' || Rune.IsWhiteSpace(rune);

    /// <summary>ASCII punctuation (which includes $+&lt;=&gt;^`|~) or any Unicode P* category.</summary>
    private static bool IsPunctuation(Rune rune)
    {
        int c = rune.Value;
        if (c is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>The CJK Unified Ideographs blocks BERT isolates (not Hiragana, Katakana or Hangul).</summary>
    private static bool IsChineseChar(int c) =>
        c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
