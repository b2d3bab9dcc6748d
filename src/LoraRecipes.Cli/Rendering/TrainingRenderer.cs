using System.Globalization;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Rendering;

/// <summary>Shows training events: a live progress bar on a terminal, plain lines when output is redirected.</summary>
internal static class TrainingRenderer
{
    public static TrainingSummary Train(IAnsiConsole console, TrainingPlan plan, TrainerOptions options, CancellationToken cancellation)
    {
        if (!console.Profile.Capabilities.Interactive)
            return new LoraTrainer(plan, e => WriteLine(console, e), options).Run(cancellation);

        TrainingSummary? summary = null;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                summary = new LoraTrainer(plan, e =>
                {
                    switch (e)
                    {
                        case RunStarted s:
                            WriteLine(console, e);
                            task = ctx.AddTask("training", maxValue: s.TotalSteps);
                            break;
                        case StepCompleted s when task is not null:
                            task.Description = string.Create(CultureInfo.InvariantCulture, $"step {s.Step}/{s.TotalSteps} loss {s.Loss:F4} lr {s.LearningRate:E2} {s.TokensPerSecond:F0} tok/s");
                            task.Value = s.Step;
                            break;
                        case RunResumed r when task is not null:
                            WriteLine(console, e);
                            task.Value = r.Step;
                            break;
                        default:
                            WriteLine(console, e);
                            break;
                    }
                }, options).Run(cancellation);
            });
        return summary!;
    }

    /// <summary>One line per event, for logs and redirected output.</summary>
    public static void WriteLine(IAnsiConsole console, TrainingEvent e)
    {
        string? line = e switch
        {
            RunStarted s => $"training {s.Name} on {s.Device} ({s.Threads} threads): {s.TrainableParameters:N0} trainable of {s.TotalParameters:N0} parameters " +
                            $"({100.0 * s.TrainableParameters / s.TotalParameters:F2}%), {s.TargetModules.Count} LoRA modules, " +
                            $"{s.TrainExamples} train / {s.ValidationExamples} validation examples, {s.TotalSteps} steps",
            StepCompleted s when s.Step == 1 || s.Step == s.TotalSteps || s.Step % Math.Max(1, s.TotalSteps / 20) == 0 =>
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
            StepSkipped k => $"warning: step {k.Step} skipped: {k.Reason} ({k.ConsecutiveSkipped} in a row, {k.TotalSkipped} in all)",
            _ => null,
        };
        if (line is not null) console.WriteLine(FormattableString.Invariant($"{line}"));
    }

    public static void PrintSummary(IAnsiConsole console, TrainingPlan plan, TrainingSummary s)
    {
        var inv = CultureInfo.InvariantCulture;
        console.WriteLine();
        if (s.InitialValidationLoss is { } before && s.FinalValidationLoss is { } after)
            console.WriteLine(string.Format(inv, "validation loss: {0:F4} before → {1:F4} after ({2:+0.0;-0.0}%)", before, after, 100 * (after - before) / before));
        if (s.FinalAccuracy is { } accuracy)
            console.WriteLine(s.InitialAccuracy is { } initial
                ? string.Format(inv, "validation accuracy: {0:P1} before → {1:P1} after (macro-F1 {2:F4})", initial, accuracy, s.FinalMacroF1)
                : string.Format(inv, "validation accuracy: {0:P1} (macro-F1 {1:F4})", accuracy, s.FinalMacroF1));
        if (s.ResumedFromStep is { } from) console.WriteLine(string.Format(inv, "resumed from step {0}", from));
        if (s.SkippedSteps > 0) console.WriteLine(string.Format(inv, "{0} step(s) skipped for a non-finite loss or gradient", s.SkippedSteps));
        console.WriteLine(string.Format(inv, "{0} steps in {1:F1} s, {2:F0} tokens/s, peak memory {3:F0} MiB", s.Steps, s.WallSeconds, s.TokensPerSecond, s.PeakMemoryBytes / 1048576.0));
        console.WriteLine($"adapter: {plan.OutputDirectory}");
    }
}
