using System.Reflection;

namespace LoraRecipes.Cli.Tests.Packaging;

/// <summary>
/// samples/AdapterRouter as docs/multi-adapter.md runs it, with one training step per recipe: the build trains both
/// <c>&lt;LoraRecipe&gt;</c> items and lists them in lora/adapters.txt; the app loads them over one base and routes.
/// </summary>
public sealed class AdapterRouterSampleTests
{
    [Fact]
    public void AdapterRouter_trains_both_recipes_lists_them_and_routes_each_question_to_its_adapter()
    {
        string repo = PackagedFeed.FindRepoRoot();
        string configuration = typeof(AdapterRouterSampleTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        string project = Path.Combine(repo, "samples", "AdapterRouter");
        var build = PackagedFeed.Run("dotnet", ["build", project, "-c", configuration, "--no-dependencies", "-p:LoraOverrides=training.max_steps=1",
            "-nologo", "-tl:off", "-nodeReuse:false"], repo, new Dictionary<string, string?> { ["DOTNET_CLI_UI_LANGUAGE"] = "en" }, lowPriority: true);
        Assert.True(build.ExitCode == 0, build.Output);

        string output = Path.Combine(project, "bin", configuration, "net10.0");
        Assert.Equal(["medical-zh", "support-en"], File.ReadAllLines(Path.Combine(output, "lora", "adapters.txt")));
        var run = PackagedFeed.Run("dotnet", [Path.Combine(output, "AdapterRouter.dll"), "什么是高血压", "How do I reset my password?"], project);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("adapters: medical-zh, support-en", run.Output);
        Assert.Contains("[medical-zh] Q: 什么是高血压", run.Output);
        Assert.Contains("[support-en] Q: How do I reset my password?", run.Output);
        Assert.Contains("[base] A:", run.Output);
    }
}
