// dotnet run --project samples/MedicalAssistant -- "请介绍一下什么是高血压"
// The adapter was trained by the build (<LoraRecipe Include="../../recipes/medical.yaml" />) and copied
// to lora/medical-qa/ beside this program: the folder is the recipe's name (name: medical-qa).
using LoraRecipes.Evaluation;
using LoraRecipes.Runtime;

string question = args.Length > 0 ? string.Join(' ', args) : "请介绍一下什么是高血压";
string adapter = LoraModel.BuiltFolder("medical-qa");
if (!File.Exists(Path.Combine(adapter, "adapter_model.safetensors")))
{
    Console.Error.WriteLine($"No adapter in {adapter}: build the project with LoraTrainOnBuild=true (the default) first.");
    return 1;
}

using var model = LoraModel.Load(adapter);
Console.WriteLine($"Q: {question}");
Console.Write("A: ");
// Printed as generated: whole characters only, even where a token ends in the middle of a Chinese character.
model.Respond(question, options: new GenerationOptions { MaxNewTokens = 160 }, onText: Console.Write);
Console.WriteLine();
return 0;
