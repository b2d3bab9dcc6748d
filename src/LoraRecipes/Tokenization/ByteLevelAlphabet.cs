using System.Text;

namespace LoraRecipes.Tokenization;

/// <summary>
/// GPT-2's <c>bytes_to_unicode</c>: every byte maps to one printable character, so that byte-level
/// BPE tokens are ordinary strings (a space is <c>Ġ</c> U+0120, a newline <c>Ċ</c> U+010A).
/// </summary>
/// <remarks>
/// The printable Latin-1 bytes (<c>!</c>..<c>~</c>, <c>¡</c>..<c>¬</c>, <c>®</c>..<c>ÿ</c>) map to
/// themselves; the remaining 68 bytes map, in byte order, to U+0100, U+0101, …
/// <see cref="Characters"/> lists the 256 characters in that same order (printable first), which is
/// the order of ids 0..255 in GPT-2's and Llama 3's vocabularies.
/// </remarks>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = new char[256];
    private static readonly int[] CharToByte = new int[0x144];

    /// <summary>The 256 byte characters in GPT-2 order: printable bytes first, then the remapped ones.</summary>
    public static IReadOnlyList<char> Characters { get; }

    static ByteLevelAlphabet()
    {
        var printable = new List<int>();
        for (int b = '!'; b <= '~'; b++) printable.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++) printable.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++) printable.Add(b);

        var order = new List<char>(256);
        foreach (int b in printable)
        {
            ByteToChar[b] = (char)b;
            order.Add((char)b);
        }
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            if (printable.Contains(b)) continue;
            ByteToChar[b] = (char)(256 + next++);
            order.Add(ByteToChar[b]);
        }

        Array.Fill(CharToByte, -1);
        for (int b = 0; b < 256; b++) CharToByte[ByteToChar[b]] = b;
        Characters = order;
    }

    /// <summary>The byte-level string of <paramref name="text"/>'s UTF-8 bytes.</summary>
    public static string Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, static (span, b) =>
        {
            for (int i = 0; i < b.Length; i++) span[i] = ByteToChar[b[i]];
        });
    }

    /// <summary>The character for one byte.</summary>
    public static char ToChar(byte b) => ByteToChar[b];

    /// <summary>Appends the bytes a byte-level token stands for; false if it holds a character outside the alphabet.</summary>
    public static bool TryAppendBytes(string token, List<byte> destination)
    {
        foreach (char c in token)
        {
            int b = c < CharToByte.Length ? CharToByte[c] : -1;
            if (b < 0) return false;
            destination.Add((byte)b);
        }
        return true;
    }
}
