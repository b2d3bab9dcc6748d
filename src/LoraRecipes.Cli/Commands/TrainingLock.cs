using System.Globalization;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using Spectre.Console;

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
    /// train: the folder is current (after a wait, or with <paramref name="ifStale"/>); the reason is printed.
    /// </summary>
    public static ArtifactLock? Enter(IAnsiConsole console, TrainingPlan plan, bool ifStale, CancellationToken cancellation)
    {
        var held = ArtifactLock.Acquire(plan.OutputDirectory, Timeout(), holder =>
        {
            string who = holder is null ? "another process" : $"process {holder.ProcessId} ({holder.CommandLine})";
            // Unwrapped: a command line and a path someone may copy.
            console.Profile.Out.Writer.WriteLine($"waiting for {who} which is training into {plan.OutputDirectory}" +
                (holder is null ? "" : string.Create(CultureInfo.InvariantCulture, $" (since {holder.StartedUtc.UtcDateTime:HH:mm:ss} UTC)")) + " …");
            console.Profile.Out.Writer.Flush();
        }, cancellation);
        if ((held.WaitedFor is null && !ifStale) || !LoraManifest.IsCurrent(plan.OutputDirectory, plan.Fingerprint)) return held;
        held.Dispose();
        string by = held.WaitedFor is { } other ? $"just trained by process {other.ProcessId}" : "already there";
        console.Profile.Out.Writer.WriteLine($"adapter up to date in {plan.OutputDirectory} ({by}, fingerprint {plan.Fingerprint[..12]}): reused, nothing to train.");
        console.Profile.Out.Writer.Flush();
        return null;
    }

    /// <summary><see cref="ArtifactLockTimeoutException.TimeoutVariable"/> in seconds, else <see cref="DefaultTimeout"/>.</summary>
    private static TimeSpan Timeout() =>
        double.TryParse(Environment.GetEnvironmentVariable(ArtifactLockTimeoutException.TimeoutVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0
            ? TimeSpan.FromSeconds(seconds)
            : DefaultTimeout;
}
