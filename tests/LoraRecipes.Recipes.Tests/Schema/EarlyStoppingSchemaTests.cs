namespace LoraRecipes.Recipes.Tests.Schema;

/// <summary><c>evaluation.early_stopping</c> and <c>evaluation.keep</c>: values, defaults, and the errors with their positions.</summary>
public sealed class EarlyStoppingSchemaTests : IDisposable
{
    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private RecipeLoadResult LoadText(string yaml) => RecipeLoader.Load(_dir.Write("recipe.yaml", yaml));

    // Lines 1-4 are the minimal recipe; `before` (if any) then the evaluation map follow from line 5.
    private RecipeLoadResult Evaluation(string body, string before = "") =>
        LoadText(TempRecipeDir.MinimalRecipe + "\n" + before + "evaluation:\n" + body);

    [Fact]
    public void Defaults_are_keep_last_and_no_early_stopping()
    {
        var recipe = LoadText(TempRecipeDir.MinimalRecipe).Recipe!;
        Assert.Equal(KeepWeights.Last, recipe.Evaluation.Keep);
        Assert.False(recipe.Evaluation.EarlyStopping.Enabled);
        Assert.Equal(EvaluationMetric.Loss, recipe.Evaluation.EarlyStopping.Metric);
        Assert.Equal(0.0, recipe.Evaluation.EarlyStopping.MinDelta);
    }

    [Fact]
    public void Settings_bind_and_the_mode_follows_the_metric()
    {
        var result = LoadText(TempRecipeDir.MinimalRecipe + "\n  format: classification\ntask: sequence-classification\nevaluation:\n  metrics: [loss, accuracy]\n  keep: best\n" +
                          "  early_stopping:\n    metric: accuracy\n    patience: 3\n    min_delta: 0.005\n");
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        var e = result.Recipe!.Evaluation;
        Assert.Equal((KeepWeights.Best, EvaluationMetric.Accuracy, (int?)3, 0.005), (e.Keep, e.EarlyStopping.Metric, e.EarlyStopping.Patience, e.EarlyStopping.MinDelta));
        Assert.False(e.EarlyStopping.LowerIsBetter);
        Assert.True(new EarlyStoppingOptions { Metric = EvaluationMetric.Perplexity }.LowerIsBetter);
    }

    [Fact]
    public void An_unknown_metric_is_refused_at_its_value_with_a_suggestion()
    {
        var d = TestAsserts.Single(Evaluation("  early_stopping:\n    metric: los\n    patience: 2\n"), RecipeErrorCodes.InvalidChoice, 7, 13);
        Assert.StartsWith("Did you mean 'loss'?", d.Hint);
    }

    [Fact]
    public void Accuracy_on_a_causal_lm_is_refused_at_the_metric()
    {
        var d = TestAsserts.Single(Evaluation("  early_stopping:\n    metric: accuracy\n    patience: 2\n"), RecipeErrorCodes.Conflict, 7, 13);
        Assert.Contains("sequence-classification only", d.Message);
        Assert.Contains("loss or perplexity", d.Hint);
    }

    [Fact]
    public void A_generation_metric_must_be_listed_in_evaluation_metrics()
    {
        var d = TestAsserts.Single(Evaluation("  early_stopping:\n    metric: rouge_l\n    patience: 2\n"), RecipeErrorCodes.Conflict, 7, 13);
        Assert.Contains("not listed in evaluation.metrics", d.Message);
        Assert.Contains("add rouge_l to evaluation.metrics", d.Hint);

        var listed = Evaluation("  metrics: [loss, rouge_l]\n  early_stopping:\n    metric: rouge_l\n    patience: 2\n");
        Assert.True(listed.Succeeded, string.Join("\n", listed.Diagnostics));
        Assert.False(listed.Recipe!.Evaluation.EarlyStopping.LowerIsBetter);
    }

    [Fact]
    public void Early_stopping_without_evaluations_is_refused_at_patience()
    {
        var d = TestAsserts.Single(Evaluation("  every: never\n  early_stopping:\n    patience: 2\n"), RecipeErrorCodes.Conflict, 8, 15);
        Assert.Contains("evaluation.every is never", d.Message);

        var none = TestAsserts.Single(Evaluation("  early_stopping:\n    patience: 2\n", before: "  validation_split: 0\n"), RecipeErrorCodes.Conflict, 8, 15);
        Assert.Contains("needs validation data", none.Message);
    }

    [Fact]
    public void Keep_best_without_evaluations_is_refused_at_keep()
    {
        var d = TestAsserts.Single(Evaluation("  every: never\n  keep: best\n"), RecipeErrorCodes.Conflict, 7, 9);
        Assert.Contains("evaluation.keep: best needs evaluations", d.Message);
    }

    [Fact]
    public void Patience_below_one_and_a_negative_min_delta_are_out_of_range()
    {
        var result = Evaluation("  early_stopping:\n    patience: 0\n    min_delta: -0.1\n");
        Assert.Contains("evaluation.early_stopping.patience must be >= 1", TestAsserts.Single(result.Diagnostics.Where(x => x.Message.Contains("patience")).ToList(), RecipeErrorCodes.OutOfRange, 7, 15).Message);
        Assert.Contains("evaluation.early_stopping.min_delta must be >= 0", TestAsserts.Single(result.Diagnostics.Where(x => x.Message.Contains("min_delta")).ToList(), RecipeErrorCodes.OutOfRange, 8, 16).Message);
    }

    [Fact]
    public void The_resolved_yaml_nests_early_stopping_and_loads_back_the_same()
    {
        var result = Evaluation("  keep: best\n  early_stopping:\n    patience: 4\n    min_delta: 0.01\n");
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        var plan = RecipeLoader.LoadPlan(_dir.WriteRecipeWithData(TempRecipeDir.MinimalRecipe + "\nevaluation:\n  keep: best\n  early_stopping:\n    patience: 4\n    min_delta: 0.01\n"), [],
            new PlanOptions { BuiltinModelVersion = "test", ToolVersion = "test" });
        Assert.True(plan.Succeeded, string.Join("\n", plan.Diagnostics));
        string yaml = PlanWriter.ToYaml(plan.Plan!);
        Assert.Contains("  keep: best\n  early_stopping:\n    metric: loss\n    patience: 4\n    min_delta: 0.01\noutput:", yaml.ReplaceLineEndings("\n"));
        var again = LoadText(yaml);
        Assert.True(again.Succeeded, string.Join("\n", again.Diagnostics));
        Assert.Equal(result.Recipe!.Evaluation, again.Recipe!.Evaluation);
    }
}
