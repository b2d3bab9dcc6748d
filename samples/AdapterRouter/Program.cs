// dotnet build samples/AdapterRouter -c Release && dotnet run --project samples/AdapterRouter -c Release --no-build -- "什么是高血压" "How do I reset my password?"
// The build trained both <LoraRecipe> items (lora/medical-zh/, lora/support-en/) and listed them in lora/adapters.txt.
// One base model, two adapters: each request goes to the adapter for its language, in one process.
using LoraRecipes.Evaluation;
using LoraRecipes.Runtime;

string[] questions = args.Length > 0 ? args : ["什么是高血压", "How do I reset my password?"];
using var model = LoraModel.LoadAllBuilt();
Console.WriteLine($"base: {model.BaseModelFolder}; adapters: {string.Join(", ", model.Adapters)}");
var options = new GenerationOptions { MaxNewTokens = 48 };

// Route: Chinese text to the medical adapter, everything else to support. Calls may come from several threads.
static string Route(string question) => question.Any(c => c >= '\u4e00' && c <= '\u9fff') ? "medical-zh" : "support-en";

var answers = questions.AsParallel().AsOrdered().Select(q => (q, adapter: Route(q), a: model.Respond(q, options: options, adapter: Route(q)))).ToList();
foreach (var (q, adapter, a) in answers)
{
    Console.WriteLine($"[{adapter}] Q: {q}");
    Console.WriteLine($"[{adapter}] A: {a}");
}
// The same question without any adapter: the base model alone.
Console.WriteLine($"[base] A: {model.Respond(questions[^1], options: options, adapter: LoraModel.BaseOnly)}");
return 0;
