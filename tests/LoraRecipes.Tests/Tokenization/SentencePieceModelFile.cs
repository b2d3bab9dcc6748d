using System.Text;
using System.Text.Json;

namespace LoraRecipes.Tests.Tokenization;

/// <summary>
/// Writes a SentencePiece BPE <c>tokenizer.model</c> (the ModelProto protobuf) from a Llama-2-format tokenizer.json:
/// the same pieces, <c>&lt;0xNN&gt;</c> as BYTE pieces, unk/BOS/EOS as UNKNOWN/CONTROL, and each normal piece scored
/// −(rank of the first merge that makes it), so that SentencePiece's "highest-scoring piece first" picks merges in
/// tokenizer.json's order. (The converter that wrote tokenizer.json ordered merges by these scores; Llama's
/// whitespace pieces ▁▁, ▁▁▁▁… score −1e9 and so come last.)
/// </summary>
internal static class SentencePieceModelFile
{
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    public static void WriteFromTokenizerJson(string tokenizerJson, string modelPath)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        var pieces = doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject()
            .Select(p => (Piece: p.Name, Id: p.Value.GetInt32())).OrderBy(p => p.Id).ToList();

        var scores = new Dictionary<string, int>(StringComparer.Ordinal);
        int rank = 0;
        foreach (JsonElement merge in doc.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray())
        {
            string merged = merge.ValueKind == JsonValueKind.String ? merge.GetString()!.Replace(" ", "") : merge[0].GetString() + merge[1].GetString();
            scores.TryAdd(merged, -rank++);
        }

        var model = new MemoryStream();
        foreach ((string piece, int id) in pieces)
        {
            int type = id == 0 ? Unknown : id <= 2 ? Control : piece.Length == 6 && piece.StartsWith("<0x") ? Byte : Normal;
            var entry = new MemoryStream();
            WriteString(entry, 1, piece);
            WriteFloat(entry, 2, type != Normal ? 0f : scores.TryGetValue(piece, out int score) ? score : -(rank + id));
            WriteVarint(entry, 3, type);
            WriteBytes(model, 1, entry.ToArray());
        }
        var trainer = new MemoryStream();
        WriteVarint(trainer, 3, 2); // model_type: BPE
        WriteVarint(trainer, 4, pieces.Count);
        WriteVarint(trainer, 35, 1); // byte_fallback
        WriteString(trainer, 45, "<unk>");
        WriteString(trainer, 46, "<s>");
        WriteString(trainer, 47, "</s>");
        WriteBytes(model, 2, trainer.ToArray());
        var normalizer = new MemoryStream();
        WriteString(normalizer, 1, "identity");
        WriteVarint(normalizer, 3, 1); // add_dummy_prefix
        WriteVarint(normalizer, 4, 0); // remove_extra_whitespaces
        WriteVarint(normalizer, 5, 1); // escape_whitespaces
        WriteBytes(model, 3, normalizer.ToArray());
        File.WriteAllBytes(modelPath, model.ToArray());
    }

    private static void WriteKey(Stream s, int field, int wireType) => WriteRaw(s, (ulong)((field << 3) | wireType));

    private static void WriteVarint(Stream s, int field, long value)
    {
        WriteKey(s, field, 0);
        WriteRaw(s, (ulong)value);
    }

    private static void WriteFloat(Stream s, int field, float value)
    {
        WriteKey(s, field, 5);
        s.Write(BitConverter.GetBytes(value)); // little-endian, as protobuf's fixed32
    }

    private static void WriteString(Stream s, int field, string value) => WriteBytes(s, field, Encoding.UTF8.GetBytes(value));

    private static void WriteBytes(Stream s, int field, byte[] value)
    {
        WriteKey(s, field, 2);
        WriteRaw(s, (ulong)value.Length);
        s.Write(value);
    }

    private static void WriteRaw(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        s.WriteByte((byte)value);
    }
}
