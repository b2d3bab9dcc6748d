using System.Text;

namespace LoraRecipes.Tokenization;

/// <summary>
/// UTF-8 bytes in, whole characters out, as they arrive: a multi-byte sequence split across pushes (a CJK character
/// or an emoji spread over byte-level tokens) is held until its last byte comes, as Hugging Face's TextStreamer does.
/// Only bytes that are invalid in themselves become U+FFFD, one per maximal subpart (Unicode §3.9, the rule
/// <see cref="Encoding.UTF8"/> follows): a stray continuation byte, C0/C1/F5–FF, a lead followed by a byte that
/// cannot continue it (overlong E0 80, surrogate ED A0, beyond U+10FFFF F4 90). For every split of any byte string,
/// the pushes' outputs joined with <see cref="Flush"/>'s equal <c>Encoding.UTF8.GetString</c> of the whole.
/// </summary>
public sealed class Utf8StreamDecoder
{
    private const char Replacement = '\uFFFD';
    private int _codePoint;   // bits gathered so far from the held sequence
    private int _held;        // bytes of the current sequence already seen (0: none)
    private int _length;      // the current sequence's length, from its lead byte (2..4)
    private byte _lead;

    /// <summary>Bytes of an incomplete sequence waiting for the rest (0–3).</summary>
    public int HeldBytes => _held;

    /// <summary>The characters <paramref name="bytes"/> complete (may be empty while a sequence is held).</summary>
    public string Push(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (byte b in bytes) Push(b, text);
        return text.ToString();
    }

    /// <summary>Ends the stream: a held incomplete sequence becomes one U+FFFD (empty when nothing is held).</summary>
    public string Flush()
    {
        if (_held == 0) return "";
        _held = 0;
        return Replacement.ToString();
    }

    /// <summary>Forgets a held incomplete sequence without output.</summary>
    public void Reset() => _held = 0;

    private void Push(byte b, StringBuilder text)
    {
        if (_held > 0)
        {
            if (Continues(b))
            {
                _codePoint = (_codePoint << 6) | (b & 0x3F);
                if (++_held < _length) return;
                _held = 0;
                text.Append(new Rune(_codePoint).ToString());
                return;
            }
            // The held bytes are a maximal subpart that cannot complete: one U+FFFD, then b starts afresh.
            _held = 0;
            text.Append(Replacement);
        }
        switch (b)
        {
            case < 0x80:
                text.Append((char)b);
                return;
            case >= 0xC2 and <= 0xDF:
                Start(b, 2, b & 0x1F);
                return;
            case >= 0xE0 and <= 0xEF:
                Start(b, 3, b & 0x0F);
                return;
            case >= 0xF0 and <= 0xF4:
                Start(b, 4, b & 0x07);
                return;
            default:   // 80–BF alone, C0/C1 (overlong), F5–FF (beyond U+10FFFF)
                text.Append(Replacement);
                return;
        }
    }

    private void Start(byte lead, int length, int bits) => (_lead, _length, _held, _codePoint) = (lead, length, 1, bits);

    /// <summary>Table 3-7 of the Unicode standard: the second byte's range depends on the lead; later ones are 80–BF.</summary>
    private bool Continues(byte b)
    {
        if (_held > 1) return b is >= 0x80 and <= 0xBF;
        return _lead switch
        {
            0xE0 => b is >= 0xA0 and <= 0xBF,   // no overlong 3-byte forms
            0xED => b is >= 0x80 and <= 0x9F,   // no surrogates D800–DFFF
            0xF0 => b is >= 0x90 and <= 0xBF,   // no overlong 4-byte forms
            0xF4 => b is >= 0x80 and <= 0x8F,   // nothing above U+10FFFF
            _ => b is >= 0x80 and <= 0xBF,
        };
    }
}
