using System.CommandLine;
using LoraRecipes.Cli.Commands;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli;

/// <summary>The <c>dotnet lora</c> command tree. Each verb lives in its own file under Commands/.</summary>
public static class LoraCli
{
    /// <summary>Parses and runs a command line; returns the documented exit code.</summary>
    public static int Run(string[] args, IAnsiConsole console, CancellationToken cancellation = default, TextReader? input = null)
    {
        var root = Build(console, cancellation, input);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) console.MarkupLineInterpolated($"[red]error:[/] {error.Message}");
            console.WriteLine("Run 'dotnet lora --help' for usage.");
            return ExitCodes.Usage;
        }
        if (NeedsLibTorch.Contains(parsed.CommandResult.Command.Name) && !parsed.Tokens.Any(t => t.Value is "--help" or "-h" or "-?")
            && Native.LibTorchLoader.Report.Missing)
        {
            console.MarkupLine("[red]error:[/] " + Markup.Escape(Native.LibTorchLoader.Report.Detail) + ".");
            console.WriteLine("The dotnet lora tool does not ship libtorch (about 600 MB); `dotnet lora setup --backend cpu` restores it once into the NuGet cache.");
            return ExitCodes.InvalidInput;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = new ConsoleWriter(console), EnableDefaultExceptionHandler = false });
    }

    /// <summary>Verbs that run libtorch; they stop with a setup hint when its natives are missing.</summary>
    private static readonly HashSet<string> NeedsLibTorch = ["run", "plan", "eval", "generate", "chat", "merge", "doctor", "onnx"];

    /// <summary>The root command with every verb (a plain table: verb → command).</summary>
    public static RootCommand Build(IAnsiConsole console, CancellationToken cancellation = default, TextReader? input = null)
    {
        var root = new RootCommand("dotnet lora — train PEFT-compatible LoRA adapters from YAML recipes.");
        root.Subcommands.Add(RunCommand.Create(console, cancellation));
        root.Subcommands.Add(ValidateCommand.Create(console));
        root.Subcommands.Add(PlanCommand.Create(console));
        root.Subcommands.Add(EvalCommand.Create(console));
        root.Subcommands.Add(DoctorCommand.Create(console));
        root.Subcommands.Add(DownloadCommand.Create(console));
        root.Subcommands.Add(ImportCommand.Create(console));
        root.Subcommands.Add(GenerateCommand.Create(console));
        root.Subcommands.Add(ChatCommand.Create(console, input ?? Console.In));
        root.Subcommands.Add(MergeCommand.Create(console));
        root.Subcommands.Add(InspectCommand.Create(console));
        root.Subcommands.Add(VerifyCommand.Create(console));
        root.Subcommands.Add(ReportCommand.Create(console));
        root.Subcommands.Add(SchemaCommand.Create(console));
        root.Subcommands.Add(SetupCommand.Create(console));
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
