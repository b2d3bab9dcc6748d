using System.Security.Cryptography;
using System.Text;

namespace LoraRecipes.IO;

/// <summary>
/// Whole-file writes that readers see either entirely old or entirely new: the content goes to
/// <c>.&lt;name&gt;.&lt;random&gt;.tmp</c> in the same directory, is flushed to disk, then renamed over the target
/// (an atomic replace on one filesystem), and the directory is flushed so the rename itself survives a power loss.
/// A killed run leaves at worst a stray temp file, never a torn target.
/// </summary>
public static class AtomicFile
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Writes <paramref name="path"/> through <paramref name="write"/>. If it throws, the temp file is deleted, the
    /// previous file is untouched and the exception propagates. The directory is created if missing.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(target)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        try
        {
            bool flushed = false;
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream);
                if (stream.CanWrite)
                {
                    stream.Flush(flushToDisk: true);
                    flushed = true;
                }
            }
            if (!flushed)
            {
                FlushToDisk(temp);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        _ = FlushDirectory(directory);
    }

    /// <summary>
    /// fsync on the directory itself: makes the renames and creations inside it durable (a file's own fsync does not
    /// cover the directory entry that names it). Best effort: some filesystems (FUSE, some network mounts) refuse
    /// fsync on a directory, and that must not fail a write whose file is already complete. A no-op on Windows, where
    /// NTFS journals renames.
    /// </summary>
    /// <returns>True when the directory was flushed (or on Windows).</returns>
    public static bool FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return true;
        try
        {
            int fd = Open(directory, 0 /* O_RDONLY */);
            if (fd < 0) return false;
            try
            {
                return Fsync(fd) == 0;
            }
            finally
            {
                _ = Close(fd);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;   // a libc without these entry points: the file itself is already flushed and renamed
        }
    }

    /// <summary>Flushes an already written file to disk (for files written by libraries that do not fsync).</summary>
    public static void FlushFile(string path) => FlushToDisk(path);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int flags);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int fd);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, stream => stream.Write(Utf8NoBom.GetBytes(text)));

    /// <summary>Writes <paramref name="bytes"/>.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>
    /// The callback may have disposed the stream (a <c>StreamWriter</c> without leaveOpen does), which flushes to the
    /// OS but not to disk: fsync through a fresh handle then. Flush(true) fsyncs even with nothing buffered.
    /// </summary>
    private static void FlushToDisk(string temp)
    {
        using var stream = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        stream.Flush(flushToDisk: true);
    }

    private static void TryDelete(string temp)
    {
        try
        {
            File.Delete(temp);
        }
        catch (IOException)
        {
            // Best effort: the original exception is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
