using LoraRecipes.Artifacts;
using LoraRecipes.Artifacts.OnnxExport;
using LoraRecipes.Data;
using LoraRecipes.Events;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Tokenization;
using LoraRecipes.Training;
using LoraRecipes.Training.Checkpoints;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>Maps the failures a user can act on to one clear line and the documented exit code.</summary>
/// <remarks>
/// <see cref="UserInputFailures"/> lists every exception type the core throws for bad input (a test enumerates the core's
/// exception types against it): each prints its message — which names the file and the fix — and exits with
/// <see cref="ExitCodes.InvalidInput"/>. <see cref="TrainingException"/> carries a <see cref="FailureKind"/>, mapped by
/// <see cref="ExitCodeFor"/>;
/// <see cref="TrainingInterruptedException"/> is handled by <c>run</c> (it reports the checkpoint to resume from).
/// </remarks>
internal static class Failures
{
    /// <summary>Exception types whose message is the whole story for the user: exit code 1, no stack trace.</summary>
    public static IReadOnlyList<Type> UserInputFailures { get; } =
    [
        typeof(DataFormatException), typeof(ModelLoadException), typeof(IO.Hub.HubException), typeof(TokenizerLoadException),
        typeof(SafetensorsFormatException), typeof(PickledCheckpointException), typeof(LoraTargetException),
        typeof(AdapterLoadException), typeof(CheckpointException), typeof(NotSupportedException), typeof(OnnxExportException),
        typeof(Templating.Jinja.JinjaException), typeof(Templating.ChatTemplateException), typeof(IO.Onnx.OnnxFormatException),
        typeof(Export.ExportRefusedException), typeof(AdapterImportException),
        typeof(Recipes.Artifacts.ArtifactFormatException), typeof(Recipes.Artifacts.ArtifactLockTimeoutException),
    ];

    /// <summary>True for an exception of (or derived from) one of <see cref="UserInputFailures"/>.</summary>
    public static bool IsUserInput(Exception ex) => UserInputFailures.Any(t => t.IsInstanceOfType(ex));

    /// <summary>The exit code users see for a failure of <paramref name="kind"/> (the numbers are documented: never change them).</summary>
    public static int ExitCodeFor(FailureKind kind) => kind switch
    {
        FailureKind.InvalidInput => ExitCodes.InvalidInput,
        FailureKind.TrainingFailed => ExitCodes.TrainingFailed,
        FailureKind.Interrupted => ExitCodes.Interrupted,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>
    /// The kind of a failure that ends a command, or null for one that is not the user's to act on (a bug: it propagates
    /// with its stack trace).
    /// </summary>
    public static FailureKind? KindOf(Exception ex) => ex switch
    {
        TrainingException t => t.Kind,
        OperationCanceledException => FailureKind.Interrupted,
        _ when IsUserInput(ex) => FailureKind.InvalidInput,
        _ => null,
    };

    /// <summary>Runs a command; a failure the user can act on becomes one line through <paramref name="report"/> (default: an
    /// <c>error:</c> line on the console) and its exit code.</summary>
    public static int Guard(IAnsiConsole console, Func<int> action, Action<FailureKind, string>? report = null)
    {
        report ??= (_, message) => CommonOptions.PrintError(console, message);
        try
        {
            return action();
        }
        catch (Exception ex) when (KindOf(ex) is { } kind)
        {
            // A cancellation that reaches here stopped before anything was written (run reports a trainer's interruption itself).
            string message = ex is OperationCanceledException ? "interrupted; nothing was written to the output folder." : ex.Message;
            report(kind, message);
            return ExitCodeFor(kind);
        }
    }
}
