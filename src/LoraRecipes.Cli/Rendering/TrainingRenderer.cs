using System.Globalization;
using LoraRecipes.Events;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Rendering;

/// <summary>Shows training events to people: a live progress bar on a terminal, plain lines (<see cref="EventText"/>) when output is redirected.</summary>
internal static class TrainingRenderer
{
    /// <summary>Trains <paramref name="plan"/>, rendering its events; each event also goes to <paramref name="log"/> (the <c>--log-file</c>).</summary>
    public static TrainingSummary Train(IAnsiConsole console, TrainingPlan plan, TrainerOptions options, CancellationToken cancellation, Action<TrainingEvent>? log = null)
    {
        log ??= _ => { };
        if (!console.Profile.Capabilities.Interactive)
            return new LoraTrainer(plan, e => { log(e); WriteLine(console, e); }, options).Run(cancellation);

        TrainingSummary? summary = null;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                summary = new LoraTrainer(plan, e =>
                {
                    log(e);
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
        if (EventText.Line(e) is { } line) console.WriteLine(line);
    }

    public static void PrintSummary(IAnsiConsole console, TrainingPlan plan, TrainingSummary s)
    {
        console.WriteLine();
        foreach (string line in EventText.Summary(s, plan.OutputDirectory)) console.WriteLine(line);
    }
}
