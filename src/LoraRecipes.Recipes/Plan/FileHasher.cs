using System.Security.Cryptography;

namespace LoraRecipes.Recipes;

/// <summary>Content SHA-256 of a file, read as a stream (a multi-GB shard never sits in memory).</summary>
internal static class FileHasher
{
    public static (string Sha256, long Size) Hash(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20, FileOptions.SequentialScan);
        var hash = SHA256.HashData(stream);
        return (Convert.ToHexStringLower(hash), stream.Length);
    }

    public static string HashText(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
}
