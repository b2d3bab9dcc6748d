using LoraRecipes.Recipes.Schema;

namespace LoraRecipes.Cli.Tests.Packaging;

/// <summary>
/// Installs the template package into a private hive, instantiates each template and validates the output
/// with the CLI in-process. Building and running what they create: <see cref="FirstRunTests"/>.
/// </summary>
[Collection(PackagedFeedCollection.Name)]
public sealed class TemplateTests : IDisposable
{
    private readonly PackagedFeed _feed;
    private readonly string _work;

    public TemplateTests(PackagedFeed feed)
    {
        _feed = feed;
        _work = Directory.CreateTempSubdirectory("lora-templates-").FullName;
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private ProcessResult DotnetNew(params string[] args) =>
        PackagedFeed.Run("dotnet", ["new", .. args, "--debug:custom-hive", _feed.Hive], _work);

    private string Instantiate(string folder, params string[] args)
    {
        string output = Path.Combine(_work, folder);
        DotnetNew([.. args, "-o", output]).ThrowIfFailed("instantiate " + string.Join(' ', args));
        return output;
    }

    [Fact]
    public void LoraRecipeDefaultsValidate()
    {
        string dir = Instantiate("default", "lora-recipe", "-n", "support-bot");
        string recipe = Path.Combine(dir, "support-bot.yaml");
        Assert.True(File.Exists(Path.Combine(dir, "data", "support-bot.jsonl")));
        var (code, output) = CliRunner.Run("validate", recipe);
        Assert.True(code == 0, output);
        string text = File.ReadAllText(recipe);
        // Editors find the schema without network: shipped beside the recipe, equal to `dotnet lora schema`.
        Assert.StartsWith("# yaml-language-server: $schema=support-bot.schema.json\n# Train:     dotnet lora run support-bot.yaml", text);
        Assert.Equal(RecipeJsonSchema.Generate(), File.ReadAllText(Path.Combine(dir, "support-bot.schema.json")));
        Assert.DoesNotContain("#if", text);
    }

    [Fact]
    public void LoraRecipeParametersReachTheRecipe()
    {
        string dir = Instantiate("params", "lora-recipe", "-n", "qa", "--rank", "16", "--targets", "q_proj, k_proj, v_proj", "--base-model", "builtin:tiny-llama");
        string recipe = Path.Combine(dir, "qa.yaml");
        var (code, output) = CliRunner.Run("plan", recipe);
        Assert.True(code == 0, output);
        string text = File.ReadAllText(recipe);
        Assert.Contains("  r: 16\n", text);
        Assert.Contains("target_modules: [q_proj, k_proj, v_proj]", text);
        Assert.Contains("batch_size: 4", text);   // only the rank line changed
    }

    [Fact]
    public void LoraRecipeForClassificationIsAValidRecipe()
    {
        string dir = Instantiate("classify", "lora-recipe", "-n", "sentiment", "--task", "sequence-classification");
        string recipe = Path.Combine(dir, "sentiment.yaml");
        // The recipe, its plan and its data are valid (a decoder with a `score` head: LlamaForSequenceClassification).
        var plan = LoraRecipes.Recipes.RecipeLoader.LoadPlan(recipe, [], new LoraRecipes.Recipes.PlanOptions { ToolVersion = "test", BuiltinModelVersion = "test" });
        Assert.True(plan.Plan is not null, string.Join("\n", plan.Diagnostics));
        Assert.Empty(plan.Diagnostics);
        var (_, output) = CliRunner.Run("validate", recipe);
        Assert.DoesNotContain("sentiment.yaml(", output);   // no error in the recipe itself
        Assert.Contains("format: classification", File.ReadAllText(recipe));
        Assert.Contains("\"label\"", File.ReadAllText(Path.Combine(dir, "data", "sentiment.jsonl")));
    }

    [Fact]
    public void LoraProjectHasTheItemDataAndCodeAndItsRecipeValidates()
    {
        string dir = Instantiate("project", "lora-project", "-n", "MyBot", "--rank", "4");
        string csproj = File.ReadAllText(Path.Combine(dir, "MyBot.csproj"));
        Assert.Contains("<LoraRecipe Include=\"recipes/MyBot.yaml\" />", csproj);
        Assert.Contains("<PackageReference Include=\"LoraRecipes.Build\" Version=\"0.1.0\" PrivateAssets=\"all\" />", csproj);
        // The app looks for the adapter under the recipe's name, the name the build gives its folder.
        Assert.Contains("LoraModel.LoadBuilt(\"mybot\")", File.ReadAllText(Path.Combine(dir, "Program.cs")));
        string recipe = Path.Combine(dir, "recipes", "MyBot.yaml");
        Assert.StartsWith("# yaml-language-server: $schema=MyBot.schema.json\n", File.ReadAllText(recipe));
        Assert.Equal(RecipeJsonSchema.Generate(), File.ReadAllText(Path.Combine(dir, "recipes", "MyBot.schema.json")));
        var (code, output) = CliRunner.Run("validate", recipe);
        Assert.True(code == 0, output);
        Assert.Contains("name: mybot", File.ReadAllText(recipe));
        Assert.Contains("  r: 4\n", File.ReadAllText(recipe));
    }
}
