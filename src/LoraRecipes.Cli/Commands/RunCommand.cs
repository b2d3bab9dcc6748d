using System.CommandLine;
using System.Runtime.InteropServices;
using LoraRecipes.Cli.Rendering;
using LoraRecipes.Events;
using LoraRecipes.Recipes;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora run &lt;recipe&gt; [--resume [--force]] [--log-format text|json] [--log-file path]</c>: train the adapter a recipe
/// describes, showing progress to people or writing it as NDJSON events (docs/events.md).
/// </summary>
internal static class RunCommand
{
    public static Command Create(IAnsiConsole console, CancellationToken cancellation)
    {
        var recipe = new Argument<string>("recipe") { Description = "Path to the recipe YAML." };
        var set = CommonOptions.Set();
        var output = new Option<string?>("--output", "-o") { Description = "Artifact folder (default: the recipe's output.dir)." };
        var device = new Option<string?>("--device") { Description = "auto, cpu, cuda or cuda:N (overrides training.device)." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in <output>/checkpoints (starts over when there is none)." };
        var force = new Option<bool>("--force") { Description = "With --resume: continue even if the recipe, data or base model changed since the checkpoint." };
        var ifStale = new Option<bool>("--if-stale") { Description = "Skip training when the output folder already holds this plan's adapter (same fingerprint); MSBuild passes it." };
        var logFormat = CommonOptions.LogFormatOption();
        var logFile = CommonOptions.LogFileOption();
        var command = new Command("run", "Train a LoRA adapter from a recipe and write the PEFT artifacts.") { recipe, set, output, device, resume, force, ifStale, logFormat, logFile };
        command.SetAction(parse =>
        {
            // Under --log-format json, stdout carries events only: diagnostics, warnings, the summary and failures are events too.
            bool json = parse.GetValue(logFormat) == "json";
            EventLog log;
            try
            {
                log = EventLog.Open(json ? console.Profile.Out.Writer : null, parse.GetValue(logFile));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                CommonOptions.PrintError(console, $"--log-file: cannot write {parse.GetValue(logFile)}: {ex.Message}");
                return ExitCodes.InvalidInput;
            }
            using var _ = log;
            void Fail(FailureKind kind, string message)
            {
                log.Write(new RunFailed(kind, FailureCodes.For(kind), message, Failures.ExitCodeFor(kind)));
                if (!json) CommonOptions.PrintError(console, message);
            }
            return Failures.Guard(console, () => Train(parse, log, json), Fail);
        });
        return command;

        int Train(ParseResult parse, EventLog log, bool json)
        {
            void Diagnostic(RecipeDiagnostic d)
            {
                log.Write(DiagnosticReported.From(d));
                if (!json) CommonOptions.PrintDiagnostics(console, [d]);
            }
            var plan = CommonOptions.LoadPlan(console, parse.GetValue(recipe)!, parse.GetValue(set), parse.GetValue(output), parse.GetValue(device), Diagnostic);
            if (plan is null) return ExitCodes.InvalidInput;
            var options = new TrainerOptions { Resume = parse.GetValue(resume), Force = parse.GetValue(force) };
            // One process trains into a folder at a time; a waiting one reuses the adapter if it is then current.
            using var held = TrainingLock.Enter(e =>
            {
                log.Write(e);
                if (json) return;
                // Unwrapped: a command line and a path someone may copy.
                console.Profile.Out.Writer.WriteLine(EventText.Line(e));
                console.Profile.Out.Writer.Flush();
            }, plan, parse.GetValue(ifStale), cancellation);
            if (held is null) return ExitCodes.Success;
            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            using var signals = new StopSignals(json ? message => log.Write(new RunWarning(message)) : console.WriteLine, interrupt);
            try
            {
                if (json)
                {
                    new LoraTrainer(plan, log.Write, options).Run(interrupt.Token);
                    return ExitCodes.Success;
                }
                var summary = TrainingRenderer.Train(console, plan, options, interrupt.Token, log.Write);
                TrainingRenderer.PrintSummary(console, plan, summary);
                return ExitCodes.Success;
            }
            catch (TrainingInterruptedException stopped) when (stopped.Checkpoint is null)
            {
                const string message = "interrupted before the first training step; nothing was saved.";
                log.Write(new RunFailed(FailureKind.Interrupted, FailureCodes.Interrupted, message, ExitCodes.Interrupted));
                if (!json) CommonOptions.PrintError(console, message);
                return ExitCodes.Interrupted;
            }
            catch (TrainingInterruptedException stopped)
            {
                string saved = $"interrupted at step {stopped.Step}; the training state is saved in {stopped.Checkpoint}.";
                string resumeWith = "continue with: " + ResumeCommand(parse.GetValue(recipe)!, parse.GetValue(set), parse.GetValue(output), parse.GetValue(device));
                log.Write(new RunFailed(FailureKind.Interrupted, FailureCodes.Interrupted, saved + " " + resumeWith, ExitCodes.Interrupted));
                if (json) return ExitCodes.Interrupted;
                // Unwrapped (a path and a command line someone will copy), whatever the console width.
                console.Markup("[red]error:[/] ");
                var raw = console.Profile.Out.Writer;
                raw.WriteLine(saved);
                raw.WriteLine(resumeWith);
                raw.Flush();
                return ExitCodes.Interrupted;
            }
        }
    }

    /// <summary>The command line that continues this run.</summary>
    internal static string ResumeCommand(string recipe, string[]? overrides, string? output, string? device)
    {
        var parts = new List<string> { "dotnet", "lora", "run", Quote(recipe) };
        foreach (string o in overrides ?? []) parts.AddRange(["--set", Quote(o)]);
        if (output is not null) parts.AddRange(["--output", Quote(output)]);
        if (device is not null) parts.AddRange(["--device", Quote(device)]);
        parts.Add("--resume");
        return string.Join(' ', parts);
    }

    private static string Quote(string s) => s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_./:=+,@".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>
    /// SIGINT (Ctrl+C) and SIGTERM: the first asks the trainer to stop at the next step boundary (it then writes a
    /// checkpoint); a second one exits at once with 130. Every file the run writes is replaced by rename, so exiting
    /// mid-write leaves the previous version of that file, never a torn one.
    /// </summary>
    private sealed class StopSignals : IDisposable
    {
        private readonly Action<string> _say;
        private readonly CancellationTokenSource _stop;
        private readonly PosixSignalRegistration[] _registrations;
        private int _count;

        /// <param name="say">Where the notice goes: a console line, or a warning event under --log-format json.</param>
        /// <param name="stop">Cancelled at the first signal: the trainer stops at the next step boundary.</param>
        public StopSignals(Action<string> say, CancellationTokenSource stop)
        {
            (_say, _stop) = (say, stop);
            _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
        }

        private void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.Increment(ref _count) == 1)
            {
                _say($"{context.Signal}: stopping after the current step to save a checkpoint (send it again to abort now).");
                _stop.Cancel();
                return;
            }
            _say($"{context.Signal} again: aborting; checkpoints and artifacts already written are intact.");
            Console.Out.Flush();
            // Not Environment.Exit: it runs libtorch's static destructors while the training thread is still inside a
            // libtorch op, which can crash (SIGSEGV, exit 139) instead of exiting with 130. Every file is written by
            // rename, so ending the process here loses nothing already written.
            if (OperatingSystem.IsWindows()) Environment.Exit(ExitCodes.Interrupted);
            ExitNow(ExitCodes.Interrupted);
        }

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "_exit")]
        private static extern void ExitNow(int status);

        public void Dispose()
        {
            foreach (var r in _registrations) r.Dispose();
        }
    }
}
