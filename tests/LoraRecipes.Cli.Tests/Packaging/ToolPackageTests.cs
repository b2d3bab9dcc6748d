using System.IO.Compression;

namespace LoraRecipes.Cli.Tests.Packaging;

[Collection(PackagedFeedCollection.Name)]
public sealed class ToolPackageTests(PackagedFeed feed)
{
    [Fact]
    public void ToolPackageIsSmallAndCarriesNoLibTorch()
    {
        string package = feed.Package($"LoraRecipes.Cli.{feed.Rid}");
        using var zip = ZipFile.OpenRead(package);
        Assert.DoesNotContain(zip.Entries, e => e.Name.Contains("torch_cpu", StringComparison.Ordinal) || e.Name.StartsWith("libc10", StringComparison.Ordinal));
        Assert.Contains(zip.Entries, e => e.Name is "TorchSharp.dll");
        Assert.Contains(zip.Entries, e => e.Name is "dotnet-lora.dll");
        long bytes = new FileInfo(package).Length;
        Assert.True(bytes < 40L << 20, $"the tool package is {bytes / (1 << 20)} MB");
        Console.WriteLine($"tool package {Path.GetFileName(package)}: {bytes / 1048576.0:F1} MiB (eng/pack-local.sh packed every package in {feed.PackSeconds:F0} s)");
        // The pointer package routes `dotnet tool install` to the RID-specific one.
        using var pointer = ZipFile.OpenRead(feed.Package("LoraRecipes.Cli"));
        Assert.Contains(pointer.Entries, e => e.Name == "DotnetToolSettings.xml");
    }

    [Fact]
    public void InstalledToolRunsHelpValidateAndFindsLibTorchInTheNuGetCache()
    {
        string tools = Path.Combine(feed.Root, "tools");
        var install = PackagedFeed.Run("dotnet", ["tool", "install", "LoraRecipes.Cli", "--version", feed.Version, "--tool-path", tools, "--add-source", feed.Feed, "--configfile", feed.NuGetConfig],
            feed.Root, new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(feed.Root, "install-cache") });
        install.ThrowIfFailed("install the tool");
        string exe = Path.Combine(tools, OperatingSystem.IsWindows() ? "dotnet-lora.exe" : "dotnet-lora");

        var help = PackagedFeed.Run(exe, ["--help"], feed.Root);
        Assert.True(help.ExitCode == 0, help.Output);
        foreach (string verb in new[] { "run", "validate", "generate", "chat", "merge", "inspect", "verify", "report", "schema", "setup" })
            Assert.Contains(verb, help.Output);

        using var recipe = new RecipeFolder();
        var validate = PackagedFeed.Run(exe, ["validate", recipe.Recipe], recipe.Directory);
        Assert.True(validate.ExitCode == 0, validate.Output);
        Assert.Contains("ok (12 records", validate.Output);

        // libtorch is not in the tool: it comes from the NuGet cache this test run restored it into.
        var doctor = PackagedFeed.Run(exe, ["doctor"], feed.Root);
        Assert.True(doctor.ExitCode == 0, doctor.Output);
        Assert.Contains("libtorch works.", doctor.Output);

        // With an empty cache the tool says what to do instead of TorchSharp's stack trace.
        var missing = PackagedFeed.Run(exe, ["plan", recipe.Recipe], recipe.Directory,
            new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(feed.Root, "empty-cache") });
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("dotnet lora setup --backend cpu", missing.Output);
    }

    [Fact]
    public void ToolManifestNamesThePackageAndCommand()
    {
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(feed.RepoRoot, "dotnet-tools.json")))!;
        Assert.Equal(1, (int)manifest["version"]!);
        var tool = manifest["tools"]!["lorarecipes.cli"]!;
        Assert.Equal("dotnet-lora", (string)tool["commands"]![0]!);
        Assert.Equal(Artifacts.ToolInfo.Version, (string)tool["version"]!);
    }
}
