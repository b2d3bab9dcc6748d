using System.CommandLine;
using LoraRecipes.Cli.Commands;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli;

/// <summary>The <c>dotnet lora</c> command tree. Each verb lives in its own file under Commands/.</summary>
public static class LoraCli
{
    /// <summary>Parses and runs a command line; returns the documented exit code.</summary>
    public static int Run(string[] args, IAnsiConsole console, CancellationToken cancellation = default)
    {
        var root = Build(console, cancellation);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) console.MarkupLineInterpolated($"[red]error:[/] {error.Message}");
            console.WriteLine("Run 'dotnet lora --help' for usage.");
            return ExitCodes.Usage;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = new ConsoleWriter(console), EnableDefaultExceptionHandler = false });
    }

    /// <summary>The root command with every verb (a plain table: verb → command).</summary>
    public static RootCommand Build(IAnsiConsole console, CancellationToken cancellation = default)
    {
        var root = new RootCommand("dotnet lora — train PEFT-compatible LoRA adapters from YAML recipes.");
        root.Subcommands.Add(RunCommand.Create(console, cancellation));
        root.Subcommands.Add(ValidateCommand.Create(console));
        root.Subcommands.Add(PlanCommand.Create(console));
        root.Subcommands.Add(EvalCommand.Create(console));
        root.Subcommands.Add(DoctorCommand.Create(console));
        root.Subcommands.Add(DownloadCommand.Create(console));
        return root;
    }

    /// <summary>Routes System.CommandLine's help text through the Spectre console (so tests can capture it).</summary>
    private sealed class ConsoleWriter(IAnsiConsole console) : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;
        public override void Write(char value) => console.Profile.Out.Writer.Write(value);
        public override void Write(string? value) => console.Profile.Out.Writer.Write(value);
        public override void WriteLine(string? value) => console.Profile.Out.Writer.WriteLine(value);
    }
}
