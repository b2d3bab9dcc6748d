using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraRecipes.Build;

/// <summary>
/// Trains one recipe by running the trainer (<c>dotnet-lora run</c>) out of process: TorchSharp and
/// libtorch never load into the long-lived MSBuild node. The trainer writes its progress as NDJSON events
/// (<c>--log-format json</c>); <see cref="TrainerOutput"/> turns each into a message, or an error or warning with file,
/// line, column and code.
/// </summary>
public sealed class LoraTrain : ToolTask
{
    /// <summary>The trainer: <c>dotnet-lora.dll</c> (run with <c>dotnet exec</c>) or an executable.</summary>
    [Required]
    public string TrainerPath { get; set; } = "";

    /// <summary>Absolute path of the recipe.</summary>
    [Required]
    public string Recipe { get; set; } = "";

    /// <summary>The recipe as the project wrote it; errors without a file are reported against it.</summary>
    public string? RecipeDisplayPath { get; set; }

    /// <summary>The artifact folder (<c>--output</c>).</summary>
    [Required]
    public string OutputDir { get; set; } = "";

    /// <summary>The <c>Overrides</c> metadata, <c>key=value;key=value</c>: one <c>--set</c> each.</summary>
    public string? Overrides { get; set; }

    /// <summary><c>LoraDevice</c> (<c>--device</c>); empty keeps the recipe's.</summary>
    public string? Device { get; set; }

    /// <summary>The <c>dotnet</c> host that runs a <c>.dll</c> trainer (<c>$(DOTNET_HOST_PATH)</c>).</summary>
    public string? DotNetHostPath { get; set; }

    /// <summary>
    /// The NuGet packages folder, passed as <c>--additionalprobingpath</c> so the trainer's libtorch natives
    /// resolve from the cache instead of being copied beside it.
    /// </summary>
    public string? PackageRoot { get; set; }

    /// <summary><c>LoraVerbosity</c>: quiet, minimal (default), normal or detailed.</summary>
    public string Verbosity { get; set; } = "minimal";

    /// <summary>The project folder: file paths in reported errors are made relative to it.</summary>
    public string? ProjectDirectory { get; set; }

    protected override string ToolName => "dotnet-lora";

    protected override Encoding StandardOutputEncoding => Encoding.UTF8;

    protected override Encoding StandardErrorEncoding => Encoding.UTF8;

    private bool RunsWithHost => TrainerPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);

    public override bool Execute()
    {
        if (!File.Exists(TrainerPath))
        {
            Log.LogError(null, "LORA902", null, RecipeDisplayPath ?? Recipe, 0, 0, 0, 0,
                $"The trainer '{TrainerPath}' does not exist. Build src/LoraRecipes.Cli or set LoraToolPath to dotnet-lora.dll.");
            return false;
        }
        // Training is long and single-process: let MSBuild build other projects meanwhile.
        YieldDuringToolExecution = true;
        Log.LogMessage(MessageImportance.High, "{0}: training adapter into {1}", RecipeDisplayPath ?? Recipe, OutputDir);
        return base.Execute();
    }

    protected override string GenerateFullPathToTool()
    {
        if (!RunsWithHost) return Path.GetFullPath(TrainerPath);
        if (!string.IsNullOrEmpty(DotNetHostPath) && File.Exists(DotNetHostPath)) return DotNetHostPath;
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, exe)).FirstOrDefault(File.Exists) ?? exe;
    }

    protected override string GenerateCommandLineCommands()
    {
        var args = new CommandLineBuilder(quoteHyphensOnCommandLine: false, useNewLineSeparator: false);
        if (RunsWithHost)
        {
            args.AppendSwitch("exec");
            if (!string.IsNullOrEmpty(PackageRoot) && Directory.Exists(PackageRoot))
                args.AppendSwitchIfNotNull("--additionalprobingpath ", PackageRoot.TrimEnd('/', '\\'));
            args.AppendFileNameIfNotNull(Path.GetFullPath(TrainerPath));
        }
        args.AppendSwitch("run");
        args.AppendFileNameIfNotNull(Recipe);
        args.AppendSwitchIfNotNull("--output ", OutputDir.TrimEnd('/', '\\'));
        // Another build node (or a CLI run) may have trained this very plan meanwhile: the trainer waits for its lock
        // and reuses a folder that is then current instead of training it twice.
        args.AppendSwitch("--if-stale");
        foreach (string set in LoraPlanRecipes.SplitOverrides(Overrides ?? ""))
            args.AppendSwitchIfNotNull("--set ", set);
        if (!string.IsNullOrWhiteSpace(Device)) args.AppendSwitchIfNotNull("--device ", Device.Trim());
        args.AppendSwitch("--log-format json");
        return args.ToString();
    }

    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        foreach (var line in TrainerOutput.Map(singleLine, Verbosity))
        {
            string file = line.File is null ? RecipeDisplayPath ?? Recipe : Relative(line.File);
            switch (line.Kind)
            {
                case TrainerLineKind.Error:
                    Log.LogError(null, line.Code, null, file, line.Line, line.Column, 0, 0, line.Text);
                    break;
                case TrainerLineKind.Warning:
                    Log.LogWarning(null, line.Code, null, file, line.Line, line.Column, 0, 0, line.Text);
                    break;
                default:
                    Log.LogMessage(line.Importance, line.Text);
                    break;
            }
        }
    }

    private string Relative(string file)
    {
        if (string.IsNullOrEmpty(ProjectDirectory) || !Path.IsPathRooted(file)) return file;
        string relative = Path.GetRelativePath(ProjectDirectory, file);
        return relative.StartsWith("..", StringComparison.Ordinal) ? file : relative;
    }
}
