using System.CommandLine;
using LoraRecipes.Recipes.Schema;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora schema</c>: the JSON Schema of recipes, for editors (yaml-language-server) and CI checks.</summary>
internal static class SchemaCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var output = new Option<string?>("--output", "-o") { Description = "Write the schema to this file instead of standard output." };
        var command = new Command("schema", "Print the JSON Schema (draft 2020-12) of recipes, generated from the schema validation uses.") { output };
        command.SetAction(parse =>
        {
            string schema = RecipeJsonSchema.Generate();
            if (parse.GetValue(output) is { } path)
            {
                File.WriteAllText(path, schema);
                console.MarkupLineInterpolated($"wrote {path}");
            }
            else
            {
                console.Profile.Out.Writer.Write(schema);
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
