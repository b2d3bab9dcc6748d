using System.Security.Cryptography;
using System.Text;
using LoraRecipes.IO;

namespace LoraRecipes.Data;

/// <summary>
/// Tokenized examples kept on disk so a data file is tokenized once: keyed by SHA-256 of the data file's bytes, the
/// tokenizer's files and every encoding setting (format, template, max_length, train_on_inputs). A plain versioned
/// record: magic "LRTK", version, count, then per example record number, length, ids, labels (int32 little-endian).
/// </summary>
public sealed class TokenCache(string directory)
{
    private const uint Magic = 0x4B54524C;   // "LRTK"
    private const int Version = 1;

    /// <summary>Tokenizer files whose bytes decide the ids.</summary>
    private static readonly string[] TokenizerFiles =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model", "vocab.txt", "added_tokens.json"];

    /// <summary>The folder the cache files live in.</summary>
    public string Directory { get; } = directory;

    /// <summary>The key of one data file encoded with one tokenizer and settings.</summary>
    public static string Key(string dataFile, string? tokenizerFolder, string settings)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"v{Version}\n{settings}\n"));
        AppendFile(sha, dataFile);
        if (tokenizerFolder is not null)
        {
            foreach (string name in TokenizerFiles)
            {
                string path = Path.Combine(tokenizerFolder, name);
                if (!File.Exists(path)) continue;
                sha.AppendData(Encoding.UTF8.GetBytes("\n" + name + "\n"));
                AppendFile(sha, path);
            }
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The cached examples for <paramref name="key"/>, or <paramref name="encode"/>'s, written to the cache.</summary>
    public IReadOnlyList<TokenizedExample> GetOrAdd(string key, Func<IReadOnlyList<TokenizedExample>> encode)
    {
        string path = Path.Combine(Directory, key + ".tokens");
        if (TryRead(path) is { } cached) return cached;
        var examples = encode();
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            AtomicFile.Write(path, stream => WriteTo(stream, examples));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only or full cache only costs the next run a re-tokenization.
        }
        return examples;
    }

    private static void AppendFile(IncrementalHash sha, string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0) sha.AppendData(buffer, 0, n);
    }

    private static void WriteTo(Stream stream, IReadOnlyList<TokenizedExample> examples)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write(examples.Count);
        foreach (var e in examples)
        {
            w.Write(e.RecordNumber);
            w.Write(e.InputIds.Length);
            foreach (int id in e.InputIds) w.Write(id);
            foreach (int label in e.Labels) w.Write(label);
        }
    }

    private static IReadOnlyList<TokenizedExample>? TryRead(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var r = new BinaryReader(File.OpenRead(path));
            if (r.ReadUInt32() != Magic || r.ReadInt32() != Version) return null;
            int count = r.ReadInt32();
            var examples = new List<TokenizedExample>(count);
            for (int i = 0; i < count; i++)
            {
                int record = r.ReadInt32(), length = r.ReadInt32();
                var ids = new int[length];
                var labels = new int[length];
                for (int j = 0; j < length; j++) ids[j] = r.ReadInt32();
                for (int j = 0; j < length; j++) labels[j] = r.ReadInt32();
                examples.Add(new TokenizedExample(ids, labels, record));
            }
            return examples;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ArgumentException)
        {
            return null;   // torn or foreign file: re-encode
        }
    }
}
