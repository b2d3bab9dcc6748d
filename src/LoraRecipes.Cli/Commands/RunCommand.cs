using System.CommandLine;
using System.Runtime.InteropServices;
using LoraRecipes.Cli.Rendering;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora run &lt;recipe&gt; [--resume [--force]]</c>: train the adapter a recipe describes.</summary>
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
        var command = new Command("run", "Train a LoRA adapter from a recipe and write the PEFT artifacts.") { recipe, set, output, device, resume, force, ifStale };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var plan = CommonOptions.LoadPlan(console, parse.GetValue(recipe)!, parse.GetValue(set), parse.GetValue(output), parse.GetValue(device));
            if (plan is null) return ExitCodes.InvalidInput;
            var options = new TrainerOptions { Resume = parse.GetValue(resume), Force = parse.GetValue(force) };
            // One process trains into a folder at a time; a waiting one reuses the adapter if it is then current.
            using var held = TrainingLock.Enter(console, plan, parse.GetValue(ifStale), cancellation);
            if (held is null) return ExitCodes.Success;
            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            using var signals = new StopSignals(console, interrupt);
            try
            {
                var summary = TrainingRenderer.Train(console, plan, options, interrupt.Token);
                TrainingRenderer.PrintSummary(console, plan, summary);
                return ExitCodes.Success;
            }
            catch (TrainingInterruptedException stopped) when (stopped.Checkpoint is null)
            {
                CommonOptions.PrintError(console, "interrupted before the first training step; nothing was saved.");
                return ExitCodes.Interrupted;
            }
            catch (TrainingInterruptedException stopped)
            {
                // Unwrapped (a path and a command line someone will copy), whatever the console width.
                console.Markup("[red]error:[/] ");
                var raw = console.Profile.Out.Writer;
                raw.WriteLine($"interrupted at step {stopped.Step}; the training state is saved in {stopped.Checkpoint}.");
                raw.WriteLine("continue with: " + ResumeCommand(parse.GetValue(recipe)!, parse.GetValue(set), parse.GetValue(output), parse.GetValue(device)));
                raw.Flush();
                return ExitCodes.Interrupted;
            }
        }));
        return command;
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
        private readonly IAnsiConsole _console;
        private readonly CancellationTokenSource _stop;
        private readonly PosixSignalRegistration[] _registrations;
        private int _count;

        public StopSignals(IAnsiConsole console, CancellationTokenSource stop)
        {
            (_console, _stop) = (console, stop);
            _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
        }

        private void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.Increment(ref _count) == 1)
            {
                _console.WriteLine($"{context.Signal}: stopping after the current step to save a checkpoint (send it again to abort now).");
                _stop.Cancel();
                return;
            }
            _console.WriteLine($"{context.Signal} again: aborting; checkpoints and artifacts already written are intact.");
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
