using System.Text;

namespace LoraRecipes.Recipes.Artifacts;

/// <summary>
/// The training lock of an artifact folder: one process at a time trains into it (two projects of a solution built
/// with <c>dotnet build -m</c>, or a CLI run beside a build). An operating-system byte-range lock on
/// <see cref="ArtifactFiles.Lock"/> inside the folder (fcntl on Unix, LockFileEx on Windows), so a process that dies,
/// however it dies, releases it; the file also records the holder (<see cref="LockHolder"/>) for those who wait.
/// </summary>
/// <remarks>
/// POSIX record locks belong to the process, not the handle, and any close of the file by the process drops them:
/// so the holder never opens the file twice, and holders inside one process are tracked in <see cref="HeldHere"/>
/// (a second acquirer in the same process waits like another process would, without touching the file).
/// The locked byte lies far past the recorded text, so readers of the text are never blocked (Windows locks are
/// mandatory).
/// </remarks>
public sealed class ArtifactLock : IDisposable
{
    private const long LockOffset = 1L << 40;
    private static readonly Dictionary<string, LockHolder> HeldHere = new(StringComparer.Ordinal);
    private readonly FileStream _stream;
    private bool _disposed;

    private ArtifactLock(string folder, FileStream stream, LockHolder? waitedFor)
    {
        (Folder, _stream, WaitedFor) = (folder, stream, waitedFor);
    }

    /// <summary>The artifact folder (absolute).</summary>
    public string Folder { get; }

    /// <summary>The process this one waited for before it got the lock; null when the lock was free.</summary>
    public LockHolder? WaitedFor { get; }

    /// <summary>
    /// Takes the lock of <paramref name="folder"/> (created if missing), waiting while another process holds it:
    /// <paramref name="onWait"/> is told who holds it when the wait starts and whenever the holder changes.
    /// </summary>
    /// <exception cref="ArtifactLockTimeoutException">Still held after <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired while waiting.</exception>
    public static ArtifactLock Acquire(string folder, TimeSpan timeout, Action<LockHolder?>? onWait = null, CancellationToken cancellation = default)
    {
        folder = Path.GetFullPath(folder);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        LockHolder? seen = null;
        bool waited = false;
        while (true)
        {
            if (TryAcquire(folder, waited ? seen : null, out var taken, out var holder)) return taken!;
            if (!waited || holder != seen)
            {
                onWait?.Invoke(holder);
                (waited, seen) = (true, holder);
            }
            if (clock.Elapsed >= timeout) throw new ArtifactLockTimeoutException(folder, holder, timeout);
            cancellation.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(100));
            cancellation.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Takes the lock if it is free; otherwise says who holds it (null when the holder has not recorded itself yet).</summary>
    public static bool TryAcquire(string folder, out ArtifactLock? taken, out LockHolder? holder) =>
        TryAcquire(Path.GetFullPath(folder), null, out taken, out holder);

    private static bool TryAcquire(string folder, LockHolder? waitedFor, out ArtifactLock? taken, out LockHolder? holder)
    {
        taken = null;
        string key = OperatingSystem.IsWindows() ? folder.ToUpperInvariant() : folder;
        lock (HeldHere)
        {
            if (HeldHere.TryGetValue(key, out holder)) return false;
            Directory.CreateDirectory(folder);
            string path = Path.Combine(folder, ArtifactFiles.Lock);
            var stream = Open(path);
            if (stream is null)
            {
                holder = ReadHolder(path);
                return false;
            }
            var self = LockHolder.Current();
            stream.SetLength(0);
            stream.Write(Encoding.UTF8.GetBytes(self.ToJson()));
            stream.Flush(flushToDisk: false);
            HeldHere[key] = self;
            taken = new ArtifactLock(folder, stream, waitedFor);
            holder = self;
            return true;
        }
    }

    /// <summary>The lock file, opened and locked; null when another process holds it.</summary>
    private static FileStream? Open(string path)
    {
        if (OperatingSystem.IsMacOS())
        {
            // No byte-range locks in .NET there: an exclusive open (flock LOCK_EX), so waiters cannot read the holder.
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                return null;
            }
        }
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            stream.Lock(LockOffset, 1);
            return stream;
        }
        catch (IOException)
        {
            stream.Dispose();
            return null;
        }
    }

    /// <summary>The holder recorded in the lock file <paramref name="path"/>, or null (free, not recorded yet, or unreadable).</summary>
    private static LockHolder? ReadHolder(string path)
    {
        try
        {
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var text = new StreamReader(reader, Encoding.UTF8);
            return LockHolder.Parse(text.ReadToEnd());
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Releases the lock (the file stays: deleting a lock file others may have open would let two holders in).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (HeldHere)
        {
            try
            {
                _stream.SetLength(0);
                if (!OperatingSystem.IsMacOS()) _stream.Unlock(LockOffset, 1);
            }
            catch (IOException)
            {
                // Closing the handle below releases it anyway.
            }
            _stream.Dispose();
            HeldHere.Remove(OperatingSystem.IsWindows() ? Folder.ToUpperInvariant() : Folder);
        }
    }
}

/// <summary>The training lock of an artifact folder stayed held past the wait limit.</summary>
public sealed class ArtifactLockTimeoutException(string folder, LockHolder? holder, TimeSpan waited)
    : Exception($"{folder}: {(holder is null ? "another process" : holder.ToString())} is still training into this folder after " +
        $"{Math.Round(waited.TotalSeconds)} s of waiting. Let it finish and run again, stop it, or wait longer: set {TimeoutVariable} (seconds).")
{
    /// <summary>The environment variable that sets how long a run waits for the lock, in seconds.</summary>
    public const string TimeoutVariable = "LORA_LOCK_TIMEOUT";

    /// <summary>The folder.</summary>
    public string Folder { get; } = folder;

    /// <summary>Who held it, when known.</summary>
    public LockHolder? Holder { get; } = holder;
}
