using System.Buffers.Binary;
using System.Text;

namespace LoraRecipes.Native;

/// <summary>Edits the symbol-version requirements (<c>.gnu.version_r</c>) of a 64-bit little-endian ELF image.</summary>
public static class ElfVersionPatcher
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Sets <c>VER_FLG_WEAK</c> on every requirement named <paramref name="version"/>; returns how many were changed.</summary>
    public static int MarkVersionWeak(byte[] image, string version)
    {
        var span = image.AsSpan();
        if (image.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new BadImageFormatException("not an ELF file");
        if (span[4] != 2 || span[5] != 1) throw new BadImageFormatException("only 64-bit little-endian ELF is supported");

        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        ushort shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        ushort shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            var sh = Slice(span, shoff + (ulong)(i * shentsize), 64);
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]);
            uint link = BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(sh[0x2C..]); // sh_info: number of Verneed entries
            var strtab = Slice(span, shoff + (ulong)(link * shentsize), 64);
            ulong strOffset = BinaryPrimitives.ReadUInt64LittleEndian(strtab[0x18..]);
            changed += WalkVerneed(span, offset, count, strOffset, version);
        }
        return changed;
    }

    private static int WalkVerneed(Span<byte> span, ulong offset, uint count, ulong strOffset, string version)
    {
        int changed = 0;
        ulong need = offset;
        for (uint n = 0; n < count; n++)
        {
            var vn = Slice(span, need, 16);
            ushort auxCount = BinaryPrimitives.ReadUInt16LittleEndian(vn[2..]);
            ulong aux = need + BinaryPrimitives.ReadUInt32LittleEndian(vn[8..]);
            for (int a = 0; a < auxCount; a++)
            {
                var vna = Slice(span, aux, 16); // vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32
                uint name = BinaryPrimitives.ReadUInt32LittleEndian(vna[8..]);
                if (ReadString(span, strOffset + name) == version)
                {
                    ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(vna[4..]);
                    BinaryPrimitives.WriteUInt16LittleEndian(vna[4..], (ushort)(flags | VerFlgWeak));
                    changed++;
                }
                uint next = BinaryPrimitives.ReadUInt32LittleEndian(vna[12..]);
                if (next == 0) break;
                aux += next;
            }
            uint nextNeed = BinaryPrimitives.ReadUInt32LittleEndian(vn[12..]);
            if (nextNeed == 0) break;
            need += nextNeed;
        }
        return changed;
    }

    private static Span<byte> Slice(Span<byte> span, ulong offset, int length)
    {
        if (offset > (ulong)span.Length || (ulong)span.Length - offset < (ulong)length)
            throw new BadImageFormatException("ELF structure points outside the file");
        return span.Slice((int)offset, length);
    }

    private static string ReadString(Span<byte> span, ulong offset)
    {
        if (offset >= (ulong)span.Length) throw new BadImageFormatException("ELF string table points outside the file");
        var rest = span[(int)offset..];
        int end = rest.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]);
    }
}
