using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.Runtime;

// `dotnet build` trained recipes/LoraApp.yaml and copied the adapter beside this program, into lora/<the recipe's name>/.
// Run: dotnet run -- "What is LoRA?"
string prompt = args.Length > 0 ? string.Join(' ', args) : "What is LoRA?";
try
{
    // Base model from adapter_config.json, prompt template from recipe.resolved.yaml.
    using var model = LoraModel.LoadBuilt("loraapp");
    // The answer is printed as it is generated (whole characters only, even when a token ends mid-character).
    model.Respond(prompt, options: new GenerationOptions { MaxNewTokens = 64 }, onText: Console.Write);
    Console.WriteLine();
    return 0;
}
catch (AdapterLoadException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
