namespace LoraRecipes.Cli;

/// <summary>The documented exit codes of <c>dotnet lora</c> (docs/cli.md). <see cref="Commands.Failures"/> maps failures to them.</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Success = 0;
    /// <summary>The recipe or its data is invalid (nothing was trained).</summary>
    public const int InvalidInput = 1;
    /// <summary>The command line is wrong.</summary>
    public const int Usage = 2;
    /// <summary>Training started but failed (NaN loss, device error, out of memory).</summary>
    public const int TrainingFailed = 3;
    /// <summary>Interrupted (Ctrl+C / SIGTERM).</summary>
    public const int Interrupted = 130;
}
