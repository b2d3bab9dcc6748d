namespace LoraRecipes.Recipes.Tests.Yaml;

/// <summary><c>extends:</c> through the loader: deep merge, child wins, lists replaced, cycles, base positions.</summary>
public sealed class YamlMergeTests : IDisposable
{
    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Child_wins_maps_merge_lists_are_replaced()
    {
        _dir.Write("base.yaml", """
            base_model: builtin:tiny-llama
            data:
              train: data/train.jsonl
              max_length: 256
            lora:
              r: 16
              alpha: 8
              target_modules: [q_proj, k_proj, v_proj]
            """);
        var path = _dir.Write("child.yaml", """
            extends: base.yaml
            name: child
            lora:
              r: 2
              target_modules: [o_proj]
            """);

        var result = RecipeLoader.Load(path);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        var recipe = result.Recipe!;
        Assert.Equal(2, recipe.Lora.R);                       // child wins
        Assert.Equal(8, recipe.Lora.Alpha);                   // base kept inside a merged map
        Assert.Equal(256, recipe.Data.MaxLength);             // base-only section kept
        Assert.Equal(["o_proj"], recipe.Lora.TargetModules);  // list replaced, not concatenated
        Assert.Equal([path, Path.Combine(_dir.Root, "base.yaml")], recipe.Origin.Files);
    }

    [Fact]
    public void Chains_apply_in_order()
    {
        _dir.Write("a.yaml", "base_model: builtin:a\nlora: {r: 1, alpha: 1}\ndata: {train: t.jsonl}\n");
        _dir.Write("sub/b.yaml", "extends: ../a.yaml\nlora: {r: 2}\n");
        var path = _dir.Write("sub/c.yaml", "extends: b.yaml\nname: c\n");

        var recipe = RecipeLoader.Load(path).Recipe!;

        Assert.Equal((2, 1.0, "builtin:a"), (recipe.Lora.R, recipe.Lora.Alpha, recipe.BaseModel));
    }

    [Fact]
    public void Cycle_is_reported_at_the_extends_value_that_closes_it()
    {
        _dir.Write("a.yaml", "extends: b.yaml\nname: a\n");
        _dir.Write("b.yaml", "name: b\nextends: a.yaml\n");

        var result = RecipeLoader.Load(Path.Combine(_dir.Root, "a.yaml"));

        var d = TestAsserts.Single(result, RecipeErrorCodes.ExtendsCycle, 2, 10);
        Assert.EndsWith("b.yaml", d.File);
        Assert.Contains("a.yaml -> ", d.Message);
    }

    [Fact]
    public void Self_extension_is_a_cycle()
    {
        var path = _dir.Write("a.yaml", "extends: a.yaml\n");

        TestAsserts.Single(RecipeLoader.Load(path), RecipeErrorCodes.ExtendsCycle, 1, 10);
    }

    [Fact]
    public void Missing_base_file_is_reported_at_the_extends_value()
    {
        var path = _dir.Write("a.yaml", "name: a\nextends: nope.yaml\n");

        var d = TestAsserts.Single(RecipeLoader.Load(path), RecipeErrorCodes.FileNotFound, 2, 10);
        Assert.Equal(path, d.File);
    }

    [Fact]
    public void Error_in_a_value_from_the_base_points_into_the_base_file()
    {
        var basePath = _dir.Write("base.yaml", "base_model: builtin:x\ndata:\n  train: t.jsonl\nlora:\n  dropout: 2\n");
        var path = _dir.Write("child.yaml", "extends: base.yaml\nname: c\n");

        var d = TestAsserts.Single(RecipeLoader.Load(path), RecipeErrorCodes.OutOfRange, 5, 12);
        Assert.Equal(basePath, d.File);
    }

    [Fact]
    public void Child_value_hides_an_invalid_base_value()
    {
        _dir.Write("base.yaml", "base_model: builtin:x\ndata:\n  train: t.jsonl\nlora:\n  dropout: 2\n");
        var path = _dir.Write("child.yaml", "extends: base.yaml\nname: c\nlora:\n  dropout: 0.5\n");

        Assert.True(RecipeLoader.Load(path).Succeeded);
    }
}
