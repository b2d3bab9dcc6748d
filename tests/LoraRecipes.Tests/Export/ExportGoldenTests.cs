using LoraRecipes.Export;
using LoraRecipes.Tests.IO;

namespace LoraRecipes.Tests.Export;

/// <summary>
/// The exported configs of the shipped recipes, compared with the golden files under Export/Golden/ (to regenerate
/// after an intended change: LORA_UPDATE_GOLDEN=1 dotnet test --filter ExportGoldenTests, then review the diff).
/// </summary>
public sealed class ExportGoldenTests
{
    private static readonly string GoldenDir = Path.Combine(ExportFixture.RepoRoot, "tests", "LoraRecipes.Tests", "Export", "Golden");

    public static TheoryData<string, string> MedicalCases() => new()
    {
        { "axolotl", "deepspeed-zero2" },
        { "axolotl", "fsdp" },
        { "llamafactory", "deepspeed-zero3" },
        { "llamafactory", "fsdp" },
    };

    [Theory]
    [MemberData(nameof(MedicalCases))]
    public void MedicalExportMatchesGolden(string engineName, string launcherName)
    {
        var engine = ExportNames.Engine(engineName)!.Value;
        var launcher = ExportNames.Launcher(launcherName)!.Value;
        using var temp = new TempDirectory();
        string recipe = ExportFixture.Recipe("medical.yaml");
        string folder = ExportFixture.Export(temp.Path, ExportFixture.Plan(recipe), engine, launcher);
        string fromExport = Path.GetRelativePath(folder, recipe).Replace('\\', '/');

        // Every text file but the data (checked record by record in ExportDataTests) and the base model weights.
        var files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Where(f => !f.StartsWith("data/train", StringComparison.Ordinal) && !f.StartsWith("data/validation", StringComparison.Ordinal) && !f.StartsWith("base_model/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        var text = string.Concat(files.Select(f => $"===== {f}\n{File.ReadAllText(Path.Combine(folder, f)).Replace(fromExport, "{RECIPE}")}"));
        Compare($"medical.{engineName}.{launcherName}.txt", text);
    }

    [Theory]
    [InlineData("axolotl")]
    [InlineData("llamafactory")]
    public void SentimentIsRefusedByNameAndWritesNothing(string engineName)
    {
        using var temp = new TempDirectory();
        string recipe = ExportFixture.Recipe("sentiment.yaml");
        string folder = Path.Combine(temp.Path, "out");
        var ex = Assert.Throws<ExportRefusedException>(() =>
            RecipeExporter.Export(ExportFixture.Plan(recipe), ExportNames.Engine(engineName)!.Value, ExportLauncher.DeepSpeedZero2, folder));
        Assert.False(Directory.Exists(folder));
        Assert.Contains(ex.Refusals, r => r.Key == "task" && r.Value == "sequence-classification");
        Compare($"sentiment.{engineName}.refused.txt", ex.Message.Replace(recipe, "{RECIPE}").Replace("\r\n", "\n") + "\n");
    }

    [Fact]
    public void DocsMappingTableIsTheTable()
    {
        string docs = Path.Combine(ExportFixture.RepoRoot, "docs", "distributed-training.md");
        const string Begin = "<!-- mapping-table: generated from ExportMappings.All -->\n", End = "<!-- /mapping-table -->";
        string text = File.ReadAllText(docs).Replace("\r\n", "\n");
        int start = text.IndexOf(Begin, StringComparison.Ordinal) + Begin.Length, end = text.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= Begin.Length && end >= start, "docs/distributed-training.md lacks the mapping-table markers");
        if (Environment.GetEnvironmentVariable("LORA_UPDATE_GOLDEN") == "1")
        {
            text = text[..start] + ExportMappings.MarkdownTable() + text[end..];
            File.WriteAllText(docs, text);
            end = text.IndexOf(End, StringComparison.Ordinal);
        }
        Assert.Equal(ExportMappings.MarkdownTable(), text[start..end]);
    }

    private static void Compare(string name, string actual)
    {
        string path = Path.Combine(GoldenDir, name);
        if (Environment.GetEnvironmentVariable("LORA_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(GoldenDir);
            File.WriteAllText(path, actual);
        }
        Assert.True(File.Exists(path), $"golden file {path} is missing: run with LORA_UPDATE_GOLDEN=1 and review it.");
        Assert.Equal(File.ReadAllText(path).Replace("\r\n", "\n"), actual);
    }
}
