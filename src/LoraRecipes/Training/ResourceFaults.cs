using LoraRecipes.Events;
using LoraRecipes.Recipes;

namespace LoraRecipes.Training;

/// <summary>Recognises resource exhaustion (out of memory, full disk) and turns it into a message the user can act on.</summary>
public static class ResourceFaults
{
    /// <summary>
    /// libtorch reports allocation failures as a plain exception carrying its C++ message:
    /// "DefaultCPUAllocator: can't allocate memory: you tried to allocate N bytes" on CPU,
    /// "CUDA out of memory. Tried to allocate …" on CUDA; .NET's own is <see cref="OutOfMemoryException"/>.
    /// </summary>
    public static bool IsOutOfMemory(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is OutOfMemoryException or InsufficientMemoryException) return true;
            string m = e.Message;
            if (m.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
                || m.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase)
                || m.Contains("CUBLAS_STATUS_ALLOC_FAILED", StringComparison.Ordinal))
                return true;
        }
        return false;
    }

    /// <summary>The error for an allocation failure at <paramref name="step"/>: what was being tried and what to lower.</summary>
    public static TrainingException OutOfMemory(Exception ex, Recipe recipe, string device, int step, string? checkpoint)
    {
        var t = recipe.Training;
        int half = Math.Max(1, t.BatchSize / 2);
        string suggestion = t.BatchSize > 1
            ? $"lower training.batch_size and raise training.gradient_accumulation to keep the effective batch " +
              $"(--set training.batch_size={half} --set training.gradient_accumulation={t.GradientAccumulation * (t.BatchSize / half)}), or lower data.max_length"
            : "lower data.max_length, target fewer modules, or use a smaller base model";
        string resume = checkpoint is null ? "" : $" The last checkpoint ({checkpoint}) is intact: after the change, continue with --resume --force.";
        return new TrainingException(
            $"out of memory on {device} at step {step + 1} with training.batch_size = {t.BatchSize}, data.max_length = {recipe.Data.MaxLength}, " +
            $"gradient_accumulation = {t.GradientAccumulation}: {suggestion}.{resume} ({FirstLine(ex.Message)})",
            FailureKind.TrainingFailed, ex);
    }

    /// <summary>
    /// A failed write: disk full (IOException "No space left on device"), permissions, or a file-size limit, which .NET
    /// reports as an ArgumentOutOfRangeException from System.IO ("Specified file length was too large for the file system").
    /// </summary>
    public static bool IsWriteFailure(Exception ex) =>
        ex is IOException or UnauthorizedAccessException
        || (ex is ArgumentOutOfRangeException && ex.TargetSite?.DeclaringType?.Namespace?.StartsWith("System.IO", StringComparison.Ordinal) == true);

    /// <summary>Why a write failed, in words (the file-size limit case has a misleading .NET message).</summary>
    public static string DescribeWriteFailure(Exception ex) => ex is ArgumentOutOfRangeException
        ? "a file would exceed the file system's or the process's file-size limit (ulimit -f)."
        : ex.Message;

    internal static string FirstLine(string message)
    {
        int nl = message.IndexOfAny(['\r', '\n']);
        return nl < 0 ? message : message[..nl];
    }
}
