using System.Globalization;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Events;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>run</c>'s side of the training lock (<see cref="ArtifactLock"/>): one process trains into an artifact folder at a
/// time; another one says whom it waits for, waits, then reuses the adapter when it is current.
/// </summary>
/// <remarks>
/// "Current" is the build's rule (<see cref="LoraManifest.IsCurrent"/>): the folder's manifest has this plan's
/// fingerprint — same recipe, overrides, data, base model and tool — so training again would write the same adapter.
/// A run that had to wait reuses a current folder; one that did not wait trains as asked, unless
/// <c>--if-stale</c> (what MSBuild passes) says a current folder is enough.
/// </remarks>
internal static class TrainingLock
{
    /// <summary>Default wait for the lock: one hour (<see cref="ArtifactLockTimeoutException.TimeoutVariable"/> overrides it).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromHours(1);

    /// <summary>
    /// Takes the lock of <paramref name="plan"/>'s output folder, waiting if needed. Null when there is nothing to
    /// train: the folder is current (after a wait, or with <paramref name="ifStale"/>). Waiting and reuse are reported as
    /// events (<see cref="LockWaiting"/>, <see cref="AdapterReused"/>) through <paramref name="report"/>.
    /// </summary>
    public static ArtifactLock? Enter(Action<TrainingEvent> report, TrainingPlan plan, bool ifStale, CancellationToken cancellation)
    {
        var held = ArtifactLock.Acquire(plan.OutputDirectory, Timeout(), holder => report(new LockWaiting(plan.OutputDirectory, holder?.ProcessId,
            holder?.CommandLine, holder is null ? null : string.Create(CultureInfo.InvariantCulture, $"{holder.StartedUtc.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC"))), cancellation);
        if ((held.WaitedFor is null && !ifStale) || !LoraManifest.IsCurrent(plan.OutputDirectory, plan.Fingerprint)) return held;
        held.Dispose();
        report(new AdapterReused(plan.OutputDirectory, plan.Fingerprint, held.WaitedFor?.ProcessId));
        return null;
    }

    /// <summary><see cref="ArtifactLockTimeoutException.TimeoutVariable"/> in seconds, else <see cref="DefaultTimeout"/>.</summary>
    private static TimeSpan Timeout() =>
        double.TryParse(Environment.GetEnvironmentVariable(ArtifactLockTimeoutException.TimeoutVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0
            ? TimeSpan.FromSeconds(seconds)
            : DefaultTimeout;
}
