using LoraRecipes.Cli.Tests.Packaging;
using LoraRecipes.Recipes.Schema;
using Snapshooter;
using Snapshooter.Xunit;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>Human-facing text pinned with Snapshooter (update: delete the .snap file and rerun).</summary>
public sealed class SnapshotTests
{
    public static TheoryData<string> Verbs() =>
        ["", "run", "validate", "plan", "eval", "doctor", "generate", "chat", "merge", "inspect", "verify", "report", "schema", "setup", "download", "import", "import onnx"];

    [Theory]
    [MemberData(nameof(Verbs))]
    public void HelpText(string verb)
    {
        var (code, output) = CliRunner.Run(verb.Length == 0 ? ["--help"] : [.. verb.Split(' '), "--help"]);
        Assert.Equal(0, code);
        Snapshot.Match(output.Replace("\r\n", "\n").Replace("testhost", "dotnet-lora"), SnapshotNameExtension.Create(verb.Length == 0 ? "root" : verb.Replace(' ', '_')));
    }

    [Fact]
    public void SchemaOutput()
    {
        var (code, output) = CliRunner.Run("schema");
        Assert.Equal(0, code);
        Assert.Equal(RecipeJsonSchema.Generate(), output.Replace("\r\n", "\n"));
        Snapshot.Match(output.Replace("\r\n", "\n"));
    }

    [Fact]
    public void PublishedSchemaFileIsTheGeneratorsOutput()
    {
        string file = Path.Combine(PackagedFeed.FindRepoRoot(), "templates", "schema", "recipe-v1.schema.json");
        Assert.True(File.ReadAllText(file) == RecipeJsonSchema.Generate(), "templates/schema/recipe-v1.schema.json is stale: dotnet lora schema -o templates/schema/recipe-v1.schema.json");
    }
}
