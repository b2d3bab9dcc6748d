using System.Collections;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraRecipes.Build.Tests;

/// <summary>
/// LoraPlanRecipes in process: the adapter's folder is the recipe's <c>name</c> (never its file name), or the item's
/// <c>AdapterName</c>; invalid or colliding names fail with LORA904/LORA905; <c>LoraOverrides</c> reach every recipe.
/// </summary>
public sealed class AdapterNameTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("lora-names-").FullName;
    private readonly FakeEngine _engine = new();

    public AdapterNameTests()
    {
        File.WriteAllText(Path.Combine(_project, "data.jsonl"), string.Concat(Enumerable.Range(0, 8).Select(i =>
            $"{{\"instruction\": \"Explain\", \"input\": \"item {i}\", \"output\": \"Answer {i}.\"}}\n")));
        Recipe("Support-Bot.yaml", "support-bot");
        Recipe("Other.yaml", "support-bot");
        Recipe("Upper.yaml", "upper");
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Recipe(string file, string name) => File.WriteAllText(Path.Combine(_project, file), $"""
        name: {name}
        base_model: builtin:tiny-llama
        data:
          train: data.jsonl
        """);

    private ITaskItem[] Plan(string? overrides, params TaskItem[] recipes)
    {
        var task = new LoraPlanRecipes
        {
            BuildEngine = _engine,
            Recipes = recipes,
            ProjectDirectory = _project,
            IntermediateDirectory = Path.Combine("obj", "Debug", "net10.0") + Path.DirectorySeparatorChar,
            Overrides = overrides,
            ToolVersion = "test",
            BuiltinModelVersion = "test",
        };
        task.Execute();
        return task.Plans;
    }

    private string Lora(string name) => Path.Combine(_project, "obj", "Debug", "net10.0", "lora", name) + Path.DirectorySeparatorChar;

    [Fact]
    public void The_folder_is_the_recipes_name_not_its_file_name()
    {
        var plan = Assert.Single(Plan(null, new TaskItem("Support-Bot.yaml")));
        Assert.Empty(_engine.Errors);
        Assert.Equal("support-bot", plan.GetMetadata("ArtifactName"));
        Assert.Equal(Lora("support-bot"), plan.GetMetadata("OutputDir"));
    }

    [Fact]
    public void AdapterName_metadata_names_it_explicitly()
    {
        var item = new TaskItem("Support-Bot.yaml");
        item.SetMetadata("AdapterName", "bot-v2");
        var plan = Assert.Single(Plan(null, item));
        Assert.Equal("bot-v2", plan.GetMetadata("ArtifactName"));
        Assert.Equal(Lora("bot-v2"), plan.GetMetadata("OutputDir"));
        Assert.Equal("support-bot", plan.GetMetadata("RecipeName"));
    }

    [Fact]
    public void An_upper_case_AdapterName_fails_with_the_spelling_to_use()
    {
        var item = new TaskItem("Upper.yaml");
        item.SetMetadata("AdapterName", "Upper");
        Assert.Empty(Plan(null, item));
        var error = Assert.Single(_engine.Errors);
        Assert.Equal("LORA904", error.Code);
        Assert.Contains("use 'upper'", error.Message);
    }

    [Fact]
    public void Two_items_naming_the_same_adapter_fail()
    {
        var plans = Plan(null, new TaskItem("Support-Bot.yaml"), new TaskItem("Other.yaml"));
        Assert.Single(plans);
        var error = Assert.Single(_engine.Errors);
        Assert.Equal("LORA905", error.Code);
        Assert.Equal("Other.yaml", error.File);
        Assert.Contains("lora/support-bot/", error.Message);
    }

    [Fact]
    public void LoraOverrides_follow_the_items_own_and_can_rename()
    {
        var item = new TaskItem("Support-Bot.yaml");
        item.SetMetadata("Overrides", "lora.r=4");
        var plan = Assert.Single(Plan("training.max_steps=2;name=renamed", item));
        Assert.Equal("lora.r=4;training.max_steps=2;name=renamed", plan.GetMetadata("Overrides"));
        Assert.Equal("renamed", plan.GetMetadata("ArtifactName"));
        Assert.Equal(Lora("renamed"), plan.GetMetadata("OutputDir"));
    }

    private sealed class FakeEngine : IBuildEngine
    {
        public List<BuildErrorEventArgs> Errors { get; } = [];
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "test.csproj";
        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => false;
        public void LogCustomEvent(CustomBuildEventArgs e) { }
        public void LogErrorEvent(BuildErrorEventArgs e) => Errors.Add(e);
        public void LogMessageEvent(BuildMessageEventArgs e) { }
        public void LogWarningEvent(BuildWarningEventArgs e) { }
    }
}
