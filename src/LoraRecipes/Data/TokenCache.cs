using System.Security.Cryptography;
using System.Text;
using LoraRecipes.IO;

namespace LoraRecipes.Data;

/// <summary>
/// Tokenized examples kept on disk so a data file is tokenized once: keyed by SHA-256 of the data file's bytes, the
/// tokenizer's files and every encoding setting (format, template, max_length, train_on_inputs). A file holds the
/// examples of one data file (<see cref="TokenCacheFile"/>, format v2); runs memory-map it (<see cref="CachedExamples"/>),
/// so a data file of any size costs its index in memory, not its tokens (issue #7).
/// </summary>
public sealed class TokenCache(string directory)
{
    private const int Version = TokenCacheFile.Version;

    /// <summary>A temp file of a killed run is removed once it has not been written to for this long.</summary>
    private static readonly TimeSpan StaleTemp = TimeSpan.FromHours(1);

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

    /// <summary>The path of the cache file of <paramref name="key"/>.</summary>
    public string PathOf(string key) => Path.Combine(Directory, key + ".tokens");

    /// <summary>
    /// The cached examples of <paramref name="key"/>, memory-mapped (dispose them: <see cref="CachedExamples"/>); on a
    /// miss, or when the file is torn, damaged or of an older version, <paramref name="encode"/>'s examples are streamed
    /// into a new file first (through a temp file and an atomic rename, so a killed run never leaves a file that is
    /// trusted later). When the cache cannot be written (read-only, full disk), the examples are encoded again into
    /// memory and returned as a plain list, and <paramref name="warn"/> says so (a very large file may not fit).
    /// </summary>
    public IReadOnlyList<TokenizedExample> GetOrAdd(string key, Func<IEnumerable<TokenizedExample>> encode, Action<string>? warn = null)
    {
        string path = PathOf(key);
        if (CachedExamples.TryOpen(path) is { } cached) return cached;
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            RemoveStaleTemps(key);
            AtomicFile.Write(path, stream => TokenCacheFile.Write(stream, encode()));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            // A read-only or full cache only costs this run its tokens in memory and the next a re-tokenization.
            warn?.Invoke($"the token cache {path} could not be written ({e.Message}); this run holds the tokenized data in memory instead. " +
                         "Free space there or set LORA_CACHE to a writable folder to stream large files.");
            return encode().ToList();
        }
        return (IReadOnlyList<TokenizedExample>?)CachedExamples.TryOpen(path) ?? encode().ToList();
    }

    /// <summary>Temp files of runs killed while writing <paramref name="key"/> (a live writer changes its own with every buffer it writes).</summary>
    private void RemoveStaleTemps(string key)
    {
        foreach (string temp in System.IO.Directory.EnumerateFiles(Directory, $".{key}.tokens.*.tmp"))
        {
            try
            {
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(temp) > StaleTemp) File.Delete(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Best effort: a stray temp file only costs disk space.
            }
        }
    }

    private static void AppendFile(IncrementalHash sha, string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0) sha.AppendData(buffer, 0, n);
    }
}
