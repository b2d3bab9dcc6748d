using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.IO;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Tokenization;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>Maps the failures a user can act on to one clear line and the documented exit code.</summary>
internal static class Failures
{
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
        catch (Exception ex) when (ex is DataFormatException or ModelLoadException or IO.Hub.HubException or TokenizerLoadException or SafetensorsFormatException
                                       or LoraTargetException or AdapterLoadException or NotSupportedException
                                       or IO.Onnx.OnnxFormatException)
        {
            CommonOptions.PrintError(console, ex.Message);
            return ExitCodes.InvalidInput;
        }
    }
}
