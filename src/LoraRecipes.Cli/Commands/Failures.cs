using LoraRecipes.Artifacts;
using LoraRecipes.Artifacts.OnnxExport;
using LoraRecipes.Data;
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
/// <see cref="ExitCodes.InvalidInput"/>. <see cref="TrainingException"/> carries its own exit code;
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

    public static int Guard(IAnsiConsole console, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (OperationCanceledException)
        {
            CommonOptions.PrintError(console, "interrupted; nothing was written to the output folder.");
            return ExitCodes.Interrupted;
        }
        catch (TrainingException ex)
        {
            CommonOptions.PrintError(console, ex.Message);
            return ex.ExitCode;
        }
        catch (Exception ex) when (IsUserInput(ex))
        {
            CommonOptions.PrintError(console, ex.Message);
            return ExitCodes.InvalidInput;
        }
    }
}
