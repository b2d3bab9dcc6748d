namespace LoraRecipes.Recipes.Tests.Schema;

/// <summary><c>lora.init: pissa_niter_N</c> (PEFT's fast-SVD PiSSA): binding, the resolved YAML, the fingerprint and errors.</summary>
public sealed class PissaNiterSchemaTests : IDisposable
{
    private readonly TempRecipeDir _dir = new();
    private static readonly PlanOptions Options = new() { BuiltinModelVersion = "test", ToolVersion = "test" };

    public void Dispose() => _dir.Dispose();

    // Lines 1-4 are the minimal recipe; the lora map follows from line 5, init on line 6.
    private RecipeLoadResult Init(string value) => RecipeLoader.Load(_dir.Write("recipe.yaml", TempRecipeDir.MinimalRecipe + "\nlora:\n  init: " + value + "\n"));

    [Theory]
    [InlineData("pissa_niter_4", LoraInit.Pissa, 4)]
    [InlineData("pissa_niter_0", LoraInit.Pissa, 0)]
    [InlineData("pissa_niter_16", LoraInit.Pissa, 16)]
    [InlineData("pissa", LoraInit.Pissa, null)]
    [InlineData("olora", LoraInit.Olora, null)]
    public void The_iteration_count_binds_beside_pissa(string value, LoraInit init, int? niter)
    {
        var result = Init(value);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal((init, niter), (result.Recipe!.Lora.Init, result.Recipe.Lora.PissaNiter));
    }

    [Theory]
    [InlineData("pissa_niter_")]
    [InlineData("pissa_niter_x")]
    [InlineData("pissa_niter_04")]
    [InlineData("pissa_niter_-1")]
    [InlineData("olora_niter_4")]
    public void Malformed_values_are_refused_at_their_position(string value)
    {
        var d = TestAsserts.Single(Init(value), RecipeErrorCodes.InvalidChoice, 6, 9);
        Assert.Contains("default, gaussian, pissa, olora or match ^pissa_niter_", d.Message);
    }

    [Fact]
    public void The_resolved_yaml_keeps_pissa_niter_and_the_fingerprint_tells_it_from_exact_pissa()
    {
        string recipe = _dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe + "\nlora:\n  init: pissa_niter_4\n");
        var plan = RecipeLoader.LoadPlan(recipe, [], Options);
        Assert.True(plan.Succeeded, string.Join("\n", plan.Diagnostics));
        string yaml = PlanWriter.ToYaml(plan.Plan!);
        Assert.Contains("  init: pissa_niter_4\n", yaml.ReplaceLineEndings("\n"));
        var back = RecipeLoader.Load(_dir.Write("back.yaml", yaml));
        Assert.True(back.Succeeded, string.Join("\n", back.Diagnostics));
        Assert.Equal(plan.Plan!.Recipe.Lora, back.Recipe!.Lora);

        var exact = RecipeLoader.LoadPlan(recipe, ["lora.init=pissa"], Options).Plan!;
        var other = RecipeLoader.LoadPlan(recipe, ["lora.init=pissa_niter_5"], Options).Plan!;
        Assert.NotEqual(plan.Plan.Fingerprint, exact.Fingerprint);
        Assert.NotEqual(plan.Plan.Fingerprint, other.Fingerprint);
    }

    [Fact]
    public void Under_another_method_it_is_a_lora_setting_like_pissa()
    {
        var result = RecipeLoader.Load(_dir.Write("recipe.yaml", TempRecipeDir.MinimalRecipe + "\nmethod: ia3\nlora:\n  init: pissa_niter_2\n"));
        var d = TestAsserts.Single(result, RecipeErrorCodes.Conflict, 7, 9);
        Assert.Contains("lora.init is a LoRA setting", d.Message);
    }
}
