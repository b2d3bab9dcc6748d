using System.Globalization;

namespace LoraRecipes.Events;

/// <summary>
/// Events as plain lines for people: what <c>dotnet lora run</c> prints when its output is redirected, and the text of the
/// MSBuild messages made from the JSON stream. One wording for both front ends.
/// </summary>
public static class EventText
{
    /// <summary>
    /// The steps worth a line of a log: the first, the last and every twentieth of the run (a live progress bar shows all).
    /// </summary>
    public static bool IsMilestone(StepCompleted s) => s.Step == 1 || s.Step == s.TotalSteps || s.Step % Math.Max(1, s.TotalSteps / 20) == 0;

    /// <summary>"N adapted modules, " — nothing for a method that wraps no module (freeze trains whole blocks in place).</summary>
    private static string AdaptedModules(int count) => count switch { 0 => "", 1 => "1 adapted module, ", _ => $"{count} adapted modules, " };

    /// <summary>The line for an event, or null for one that is not logged as a line (a step between milestones, the completion).</summary>
    public static string? Line(TrainingEvent e)
    {
        string? line = e switch
        {
            RunStarted s => $"training {s.Name} on {s.Device} ({s.Threads} threads): {s.TrainableParameters:N0} trainable of {s.TotalParameters:N0} parameters " +
                            $"({100.0 * s.TrainableParameters / s.TotalParameters:F2}%), {AdaptedModules(s.TargetModules.Count)}" +
                            $"{s.TrainExamples} train / {s.ValidationExamples} validation examples, {s.TotalSteps} steps",
            StepCompleted s when IsMilestone(s) =>
                $"step {s.Step}/{s.TotalSteps} epoch {s.Epoch:F2} loss {s.Loss:F4} lr {s.LearningRate:E2} grad_norm {s.GradNorm:F3} {s.TokensPerSecond:F0} tok/s",
            EvaluationCompleted v => $"eval @ step {v.Step}: validation loss {v.Loss:F4} perplexity {v.Perplexity:F2} ({v.Tokens} tokens)"
                + (v.Generation is { } g ? string.Concat(g.Select(p => FormattableString.Invariant($", {p.Key} {p.Value:F4}"))) : ""),
            ClassificationEvaluated c => $"eval @ step {c.Step}: validation loss {c.Loss:F4} accuracy {c.Accuracy:P1} f1 {c.MacroF1:F4} ({c.Examples} examples); " +
                                         $"confusion [actual→predicted] {string.Join(" ", c.Labels.Select((l, i) => $"{l}:[{string.Join(",", c.Confusion[i])}]"))}",
            SampleGenerated g => $"sample @ step {g.Step}: {g.Prompt} → {g.Completion.ReplaceLineEndings(" ")}",
            RunWarning w => "warning: " + w.Message,
            RunResumed r => $"resuming at step {r.Step}/{r.TotalSteps} from {r.Checkpoint}" +
                            (r.FingerprintDiffers ? " (--force: the recipe or its inputs changed since this checkpoint)" : ""),
            CheckpointSaved c => $"checkpoint @ step {c.Step}: {c.Folder}",
            EarlyStopped x => $"early stopping @ step {x.Step}/{x.TotalSteps}: {x.Metric} {x.Value:G6} did not beat the best {x.BestValue:G6} (step {x.BestStep}) " +
                              $"by more than {x.MinDelta:G6} in {x.Patience} evaluation(s) in a row",
            StepSkipped k => $"warning: step {k.Step} skipped: {k.Reason} ({k.ConsecutiveSkipped} in a row, {k.TotalSkipped} in all)",
            DiagnosticReported d => (d.Line > 0 ? $"{d.File}({d.Line},{d.Column})" : d.File) + $": {d.Severity} {d.Code}: {d.Text()}",
            RunFailed f => "error: " + f.Message,
            LockWaiting w => "waiting for " + (w.HolderProcessId is { } pid ? $"process {pid} ({w.HolderCommandLine})" : "another process") +
                             $" which is training into {w.Folder}" + (w.HolderSinceUtc is { } since ? $" (since {since})" : "") + " …",
            AdapterReused r => $"adapter up to date in {r.Folder} (" + (r.TrainedByProcessId is { } by ? $"just trained by process {by}" : "already there") +
                               $", fingerprint {r.Fingerprint[..Math.Min(12, r.Fingerprint.Length)]}): reused, nothing to train.",
            _ => null,
        };
        return line is null ? null : FormattableString.Invariant($"{line}");
    }

    /// <summary>The closing lines of a run: loss (and accuracy) before → after, steps, throughput, where the adapter is.</summary>
    public static IEnumerable<string> Summary(TrainingSummary s, string outputDirectory)
    {
        var inv = CultureInfo.InvariantCulture;
        if (s.InitialValidationLoss is { } before && s.FinalValidationLoss is { } after)
            yield return string.Format(inv, "validation loss: {0:F4} before → {1:F4} after ({2:+0.0;-0.0}%)", before, after, 100 * (after - before) / before);
        if (s.FinalAccuracy is { } accuracy)
            yield return s.InitialAccuracy is { } initial
                ? string.Format(inv, "validation accuracy: {0:P1} before → {1:P1} after (macro-F1 {2:F4})", initial, accuracy, s.FinalMacroF1)
                : string.Format(inv, "validation accuracy: {0:P1} (macro-F1 {1:F4})", accuracy, s.FinalMacroF1);
        if (s.ResumedFromStep is { } from) yield return string.Format(inv, "resumed from step {0}", from);
        if (s.SkippedSteps > 0) yield return string.Format(inv, "{0} step(s) skipped for a non-finite loss or gradient", s.SkippedSteps);
        yield return string.Format(inv, "{0} steps in {1:F1} s, {2:F0} tokens/s, peak memory {3:F0} MiB", s.Steps, s.WallSeconds, s.TokensPerSecond, s.PeakMemoryBytes / 1048576.0);
        yield return $"adapter: {outputDirectory}";
    }
}
