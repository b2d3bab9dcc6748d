using LoraRecipes.Evaluation;

// The build trained recipes/LoraApp.yaml and copied the adapter next to this program (lora/<recipe name>/).
// Run: dotnet run -- "What is LoRA?"
string adapter = Path.Combine(AppContext.BaseDirectory, "lora", "loraapp");
if (!File.Exists(Path.Combine(adapter, "adapter_config.json")))
{
    Console.Error.WriteLine($"No adapter in {adapter}: build the project first (dotnet build trains it).");
    return 1;
}

string prompt = args.Length > 0 ? string.Join(' ', args) : "What is LoRA?";
using var model = AdaptedModel.Open(adapter);   // base model from adapter_config.json, template from recipe.resolved.yaml
Console.WriteLine(model.Generate(prompt, new GenerationOptions { MaxNewTokens = 64 }));
return 0;
