using System.Xml.Linq;

namespace LoraRecipes.Build.Tests;

public sealed class PackageLayoutTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    [Fact]
    public void Trainer_versions_are_read_from_the_core_assembly_without_loading_it()
    {
        string configuration = typeof(PackageLayoutTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        string trainer = Path.Combine(RepoRoot, "src", "LoraRecipes.Cli", "bin", configuration, "net10.0", "dotnet-lora.dll");

        var versions = TrainerVersion.ReadBeside(trainer);

        Assert.NotNull(versions);
        Assert.Matches(@"^\d+\.\d+\.\d+", versions.ToolVersion);
        Assert.DoesNotContain("+", versions.ToolVersion);
        Assert.StartsWith("2+tok", versions.BuiltinModelVersion);
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name is "LoraRecipes" or "TorchSharp");
    }

    [Fact]
    public void Native_backend_versions_in_props_match_the_ones_the_trainer_is_built_with()
    {
        var central = XDocument.Load(Path.Combine(RepoRoot, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);
        var props = XDocument.Load(Path.Combine(RepoRoot, "src", "LoraRecipes.Build", "build", "LoraRecipes.Build.props"));

        Assert.Equal(central["libtorch-cpu-linux-x64"], (string)props.Descendants("LoraLibTorchVersion").Single());
        Assert.Equal(central["TorchSharp"], (string)props.Descendants("LoraTorchSharpVersion").Single());
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("LoraRecipes.sln not found");
    }
}
