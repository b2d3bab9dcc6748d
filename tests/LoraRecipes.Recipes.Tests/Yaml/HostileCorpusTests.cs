
namespace LoraRecipes.Recipes.Tests.Yaml;

/// <summary>Every file under Hostile/ loads to diagnostics quickly; none throws or hangs.</summary>
public sealed class HostileCorpusTests : IDisposable
{
    private static readonly Dictionary<string, string> Expected = new()
    {
        ["alias-bomb.yaml"] = RecipeErrorCodes.AliasExpansion,
        ["deep-flow.yaml"] = RecipeErrorCodes.NestingTooDeep,
        ["deep-block.yaml"] = RecipeErrorCodes.NestingTooDeep,
        ["undefined-alias.yaml"] = RecipeErrorCodes.AliasExpansion,
        ["tab-indent.yaml"] = RecipeErrorCodes.YamlSyntax,
        ["unterminated-quote.yaml"] = RecipeErrorCodes.YamlSyntax,
        ["complex-key.yaml"] = RecipeErrorCodes.InvalidKey,
    };

    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Hostile"), "*.yaml").Order())
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Hostile_file_yields_diagnostics(string file)
    {
        // Work is bounded by the loader's limits (nodes, depth, alias expansion), asserted by the diagnostic codes, not by a clock.
        var result = RecipeLoader.Load(Path.Combine(AppContext.BaseDirectory, "Hostile", file));

        Assert.False(result.Succeeded);
        Assert.NotEmpty(result.Diagnostics);
        if (Expected.TryGetValue(file, out var code))
        {
            Assert.Contains(result.Diagnostics, d => d.Code == code);
        }
    }

    [Fact]
    public void Alias_bomb_stops_at_the_alias_that_crosses_the_cap()
    {
        var result = RecipeLoader.Load(Path.Combine(AppContext.BaseDirectory, "Hostile", "alias-bomb.yaml"));

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(RecipeErrorCodes.AliasExpansion, d.Code);
        Assert.Equal(11, d.Line); // level f: a..e expand to ~75k values, f (~598k) crosses 100k.
    }

    [Fact]
    public void Small_aliases_are_allowed()
    {
        var path = _dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe + "\nlora:\n  target_modules: &t [q_proj, k_proj]\nevaluation:\n  samples: *t\n");

        var result = RecipeLoader.Load(path);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal(result.Recipe!.Lora.TargetModules, result.Recipe.Evaluation.Samples);
    }

    [Fact]
    public void Deep_nesting_of_a_million_levels_is_rejected()
    {
        var path = _dir.Write("deep.yaml", "name: " + new string('[', 1_000_000) + new string(']', 1_000_000));

        var result = RecipeLoader.Load(path);

        // Rejected at the depth limit (64), so the work stops there whatever the machine's speed.
        TestAsserts.Single(result, RecipeErrorCodes.NestingTooDeep, 1, 70);
    }

    [Fact]
    public void File_over_4_MB_is_rejected_before_parsing()
    {
        var path = _dir.Write("big.yaml", "name: demo\n# " + new string('x', 4 * 1024 * 1024) + "\n");

        var result = RecipeLoader.Load(path);

        Assert.Equal(RecipeErrorCodes.FileTooLarge, Assert.Single(result.Diagnostics).Code);
    }

    [Fact]
    public void Scalar_over_1_MB_is_rejected()
    {
        var path = _dir.Write("long.yaml", "name: demo\nbase_model: " + new string('x', 1024 * 1024 + 1) + "\n");

        var result = RecipeLoader.Load(path);

        TestAsserts.Single(result, RecipeErrorCodes.ScalarTooLarge, 2, 13);
    }
}
