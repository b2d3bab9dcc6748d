using LoraRecipes.Cli;
using Spectre.Console;

return LoraCli.Run(args, AnsiConsole.Console);
