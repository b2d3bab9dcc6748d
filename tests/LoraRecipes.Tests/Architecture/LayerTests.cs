using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace LoraRecipes.Tests.Architecture;

/// <summary>
/// The core stays one-way: every folder of src/LoraRecipes uses only the folders below it in
/// <see cref="LayerRule.Tiers"/> (docs/architecture.md), read from the compiled assembly so fully-qualified uses,
/// lambdas and generic arguments count as much as <c>using</c> lines.
/// </summary>
public sealed partial class LayerTests(ITestOutputHelper output)
{
    private static string CoreAssembly => typeof(LoraRecipes.Models.ModelConfig).Assembly.Location;

    [Fact]
    public void The_core_has_no_cycle_and_no_edge_against_the_layer_order()
    {
        var edges = LayerRule.LayerEdges(TypeDependencies.Read(CoreAssembly));
        foreach (var known in LayerRule.KnownViolations.Where(edges.ContainsKey))
            output.WriteLine($"known violation (being removed by #13): {known.From} → {known.To}, e.g. {edges[known].FromType} → {edges[known].ToType}");
        var problems = LayerRule.Check(edges, LayerRule.Tiers, LayerRule.KnownViolations);
        Assert.True(problems.Count == 0, "the core's folders break the layer order (docs/architecture.md):\n" + string.Join("\n", problems));
    }

    [Fact]
    public void The_checker_reports_upward_and_sideways_edges_cycles_unknown_folders_and_stale_allowances()
    {
        string[][] tiers = [["IO"], ["Models"], ["Lora", "Data"]];
        var edges = new SortedDictionary<(string, string), (string, string)>
        {
            [("Lora", "Models")] = ("LoraRecipes.Lora.LoraInjector", "LoraRecipes.Models.ILinearHost"),             // down: fine
            [("Models", "Lora")] = ("LoraRecipes.Models.HfCheckpoint", "LoraRecipes.Lora.LoraInjector"),            // up
            [("Lora", "Data")] = ("LoraRecipes.Lora.X", "LoraRecipes.Data.Y"),                                       // sideways
            [("Events", "IO")] = ("LoraRecipes.Events.E", "LoraRecipes.IO.AtomicFile"),                               // unknown folder
        };
        var problems = LayerRule.Check(edges, tiers, [("IO", "Models")]);
        Assert.Equal(
        [
            "folder Events has no layer: add it to LayerRule.Tiers and docs/architecture.md",
            "Lora → Data (same tier), e.g. Lora.X → Data.Y",
            "Models → Lora (upward), e.g. Models.HfCheckpoint → Lora.LoraInjector",
            "cycle: Lora → Models (Lora.LoraInjector → Models.ILinearHost), Models → Lora (Models.HfCheckpoint → Lora.LoraInjector)",
            "IO → Models is listed as a known violation but no longer occurs: delete it from LayerRule.KnownViolations",
        ], problems);

        // An allowed violation is not reported, and neither is the cycle it closes.
        Assert.Equal(["Lora → Data (same tier), e.g. Lora.X → Data.Y", "folder Events has no layer: add it to LayerRule.Tiers and docs/architecture.md"],
            LayerRule.Check(edges, tiers, [("Models", "Lora")]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_reader_sees_qualified_calls_lambdas_generic_arguments_and_typeof()
    {
        var pairs = TypeDependencies.Read(typeof(LayerTests).Assembly.Location);
        const string Probe = "LoraRecipes.Tests.Architecture.Probes.";
        Assert.Contains((Probe + "QualifiedCaller", Probe + "CalledType"), pairs);
        Assert.Contains((Probe + "LambdaCaller", Probe + "CalledType"), pairs);
        Assert.Contains((Probe + "GenericHolder", Probe + "ElementType"), pairs);
        Assert.Contains((Probe + "TypeofUser", Probe + "ElementType"), pairs);
        Assert.DoesNotContain(pairs, p => p.From == Probe + "CalledType");
    }

    [Fact]
    public void Every_core_file_declares_the_namespace_of_its_folder()
    {
        string src = Path.Combine(RepositoryRoot(), "src", "LoraRecipes");
        var wrong = new List<string>();
        foreach (string file in Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(src, file);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin", StringComparison.Ordinal)) continue;
            string? folder = Path.GetDirectoryName(relative);
            string expected = "LoraRecipes" + (string.IsNullOrEmpty(folder) ? "" : "." + folder.Replace(Path.DirectorySeparatorChar, '.'));
            foreach (Match m in Namespace().Matches(File.ReadAllText(file)))
                if (m.Groups[1].Value != expected) wrong.Add($"{relative}: namespace {m.Groups[1].Value}, expected {expected}");
        }
        Assert.True(wrong.Count == 0, "the layer test reads namespaces, so they must match folders:\n" + string.Join("\n", wrong));
    }

    [Fact]
    public void The_assemblies_go_one_way_recipes_then_core_then_front_ends()
    {
        Assert.Equal(["LoraRecipes.Recipes"], OwnReferences(CoreAssembly));
        Assert.Empty(OwnReferences(typeof(LoraRecipes.Recipes.RecipeLoader).Assembly.Location));
    }

    private static List<string> OwnReferences(string assemblyPath)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var md = pe.GetMetadataReader();
        return md.AssemblyReferences.Select(r => md.GetString(md.GetAssemblyReference(r).Name))
            .Where(n => n.StartsWith("LoraRecipes", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex Namespace();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (LoraRecipes.sln) not found above " + AppContext.BaseDirectory);
    }
}
