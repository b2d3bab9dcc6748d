using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace LoraRecipes.Cli.Tests.Packaging;

/// <summary>
/// The first five minutes, as a new user takes them, against the packages <c>eng/pack-local.sh</c> packed from this
/// tree (<see cref="PackagedFeed"/>): the feed is added to NuGet's sources the way the script says (a nuget.config
/// beside the project that adds it to the machine's sources), and every step is the plain command a user types.
/// The recipes are the templates' own (10 records, 6 steps on builtin:tiny-llama), so no override is needed.
/// Each step's wall time goes to the test output (<c>dotnet test --logger "console;verbosity=detailed"</c>).
/// </summary>
[Collection(PackagedFeedCollection.Name)]
public sealed class FirstRunTests : IDisposable
{
    private const string Trained = "training adapter into";
    private readonly PackagedFeed _feed;
    private readonly ITestOutputHelper _log;
    private readonly string _work;

    public FirstRunTests(PackagedFeed feed, ITestOutputHelper log)
    {
        _feed = feed;
        _log = log;
        _work = Directory.CreateTempSubdirectory("lora-firstrun-").FullName;
    }

    public void Dispose() => PackagedFeed.TryDelete(_work);

    [Fact]
    public void LoraProject_builds_runs_rebuilds_without_training_and_publishes_an_app_that_runs()
    {
        var clock = Stopwatch.StartNew();
        string dir = Path.Combine(_work, "Hello");
        DotnetNew("lora-project", "-n", "Hello", "-o", dir, "--lora-version", _feed.Version);
        WriteNuGetConfig(dir);

        // dotnet build trains the recipe (name: hello) and copies the adapter to bin/…/lora/hello/ — the recipe's name, on a
        // case-sensitive file system too, where the project (Hello) and recipe file (Hello.yaml) are spelled otherwise.
        var build = Dotnet(dir, "build");
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Contains("Hello.yaml: " + Trained, build.Output);
        string adapter = Path.Combine(dir, "bin", "Debug", "net10.0", "lora", "hello");
        Assert.True(File.Exists(Path.Combine(adapter, "adapter_model.safetensors")), build.Output);
        Assert.False(Directory.Exists(Path.Combine(dir, "bin", "Debug", "net10.0", "lora", "Hello")));
        string manifest = File.ReadAllText(Path.Combine(dir, "obj", "Debug", "net10.0", "lora", "hello", "lora-manifest.json"));

        // dotnet run prints generated text and exits 0.
        var run = Dotnet(dir, "run", "--no-build", "--", "What is LoRA?");
        Assert.True(run.ExitCode == 0, run.Output);
        string answer = run.Output.Trim();
        Assert.False(string.IsNullOrWhiteSpace(answer), "the app printed nothing");
        Assert.DoesNotContain("No adapter", answer);

        // A second build is a no-op for the adapter: one skip line, no training, the manifest untouched.
        var again = Dotnet(dir, "build");
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Contains("Hello.yaml: adapter up to date", again.Output);
        Assert.DoesNotContain(Trained, again.Output);
        Assert.Equal(manifest, File.ReadAllText(Path.Combine(dir, "obj", "Debug", "net10.0", "lora", "hello", "lora-manifest.json")));

        // dotnet publish (Release: trains that configuration's adapter) carries it, and the published app runs and
        // answers as the built one did (same recipe, same seed, same weights).
        string published = Path.Combine(_work, "published");
        var publish = Dotnet(dir, "publish", "-o", published);
        Assert.True(publish.ExitCode == 0, publish.Output);
        Assert.True(File.Exists(Path.Combine(published, "lora", "hello", "adapter_model.safetensors")), publish.Output);
        Assert.True(File.Exists(Path.Combine(published, "lora", "hello", "recipe.resolved.yaml")));
        var app = Timed(() => PackagedFeed.Run("dotnet", [Path.Combine(published, "Hello.dll"), "What is LoRA?"], _work));
        Assert.True(app.ExitCode == 0, app.Output);
        Assert.Equal(answer, app.Output.Trim());
        _log.WriteLine($"first run, lora-project (new, build, run, build, publish, run): {clock.Elapsed.TotalSeconds:F0} s");
    }

    [Fact]
    public void LoraRecipe_runs_with_the_installed_tool_and_generates()
    {
        var clock = Stopwatch.StartNew();
        string dir = Path.Combine(_work, "bot");
        DotnetNew("lora-recipe", "-n", "support-bot", "-o", dir);
        WriteNuGetConfig(dir);

        // `dotnet lora` as a local tool, installed from the feed (a global install runs the same package).
        Dotnet(dir, "new", "tool-manifest").ThrowIfFailed("create a tool manifest");
        Dotnet(dir, "tool", "install", "LoraRecipes.Cli", "--version", _feed.Version).ThrowIfFailed("install the tool");

        var run = Dotnet(dir, "lora", "run", "support-bot.yaml");
        Assert.True(run.ExitCode == 0, run.Output);
        string adapter = Path.Combine(dir, "artifacts", "support-bot");   // output.dir's default: artifacts/<name>
        Assert.True(File.Exists(Path.Combine(adapter, "adapter_model.safetensors")), run.Output);
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "lora-manifest.json"))))
            Assert.Equal(6, manifest.RootElement.GetProperty("steps").GetInt32());   // 8 training records, batch 4, 3 epochs

        var generate = Dotnet(dir, "lora", "generate", "artifacts/support-bot", "--prompt", "What is LoRA?", "--max-new-tokens", "24");
        Assert.True(generate.ExitCode == 0, generate.Output);
        Assert.False(string.IsNullOrWhiteSpace(generate.Output), "generate printed nothing");
        _log.WriteLine($"first run, lora-recipe (new, tool install, lora run, lora generate): {clock.Elapsed.TotalSeconds:F0} s");
    }

    [Fact]
    public void PackScriptPrintsTheCommandsThatUseTheFeed()
    {
        Assert.Contains($"<add key=\"lorarecipes-local\" value=\"{_feed.Feed}\" />", _feed.PackOutput);
        Assert.Contains($"dotnet tool install --global LoraRecipes.Cli --version {_feed.Version} --add-source \"{_feed.Feed}\"", _feed.PackOutput);
        Assert.Contains($"dotnet new install \"{_feed.Feed}/LoraRecipes.Templates.{_feed.Version}.nupkg\"", _feed.PackOutput);
        Assert.Contains($"dotnet new lora-project -n Hello --lora-version {_feed.Version}", _feed.PackOutput);
        foreach (string id in PackagedFeed.PackageIds)
            Assert.True(File.Exists(Path.Combine(_feed.Feed, $"{id}.{_feed.Version}.nupkg")), $"{id} was not packed:\n{_feed.PackOutput}");
        _log.WriteLine($"eng/pack-local.sh packed {PackagedFeed.PackageIds.Length} packages in {_feed.PackSeconds:F0} s");
    }

    private void DotnetNew(params string[] args) =>
        Timed(() => PackagedFeed.Run("dotnet", ["new", .. args, "--debug:custom-hive", _feed.Hive], _work)).ThrowIfFailed("dotnet new " + string.Join(' ', args));

    private ProcessResult Timed(Func<ProcessResult> run)
    {
        var clock = Stopwatch.StartNew();
        var result = run();
        _log.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {result.CommandLine}");
        return result;
    }

    /// <summary>What eng/pack-local.sh prints: the feed added to the machine's sources (no &lt;clear/&gt;).</summary>
    private void WriteNuGetConfig(string dir) => File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <add key="lorarecipes-local" value="{_feed.Feed}" />
          </packageSources>
        </configuration>
        """);

    /// <summary>
    /// The dotnet CLI as the user runs it. libtorch (~600 MB) is hard-linked from the NuGet cache into bin/ and the publish
    /// folder instead of copied (MSBuild reads these two properties from the environment); nothing else differs.
    /// </summary>
    private ProcessResult Dotnet(string dir, params string[] args) => Timed(() =>
        PackagedFeed.Run("dotnet", args, dir, new Dictionary<string, string?>
        {
            ["CreateHardLinksForCopyLocalIfPossible"] = "true",
            ["CreateHardLinksForPublishFilesIfPossible"] = "true",
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_UI_LANGUAGE"] = "en",
        }, lowPriority: true));
}
