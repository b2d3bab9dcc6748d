using LoraRecipes.Cli;
using Spectre.Console;

// Redirected output (MSBuild's ToolTask, CI logs) has no terminal width; Spectre would wrap at 80 columns
// and split canonical `file(line,col): error LORAnnn: …` lines that IDEs and the build task parse.
if (Console.IsOutputRedirected) AnsiConsole.Console.Profile.Width = 4096;

return LoraCli.Run(args, AnsiConsole.Console);
