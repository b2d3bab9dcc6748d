using LoraRecipes.Evaluation;
using LoraRecipes.Runtime;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Runtime;

public sealed class LoraModelTests
{
    [Fact]
    public void Merged_and_unmerged_adapters_generate_the_same_greedy_text_and_Respond_uses_the_recipe_template()
    {
        using var fixture = new TrainingFixture(records: 12);
        var plan = fixture.Plan(fixture.Recipe(maxSteps: 2));
        new LoraTrainer(plan).Run();
        var options = new GenerationOptions { MaxNewTokens = 12 };

        using var unmerged = LoraModel.Load(plan.OutputDirectory);
        using var merged = LoraModel.Load("builtin:tiny-llama", plan.OutputDirectory, merge: true);

        Assert.False(unmerged.IsMerged);
        Assert.True(merged.IsMerged);
        Assert.NotEmpty(unmerged.Modules);
        Assert.Equal(4, ((LoraRecipes.Lora.LoraLinear)unmerged.Modules.Values.First()).A.shape[0]);   // A is (r, in); the recipe's r
        Assert.Equal("alpaca", unmerged.PromptFormatter!.Name);
        string prompt = unmerged.PromptFormatter.FormatPrompt("什么是高血压");
        Assert.Equal(unmerged.Generate(prompt, options), merged.Generate(prompt, options));
        Assert.Equal(unmerged.Generate(prompt, options), unmerged.Respond("什么是高血压", options: options));
    }

    [Fact]
    public void Classify_is_not_supported_for_causal_lm_adapters()
    {
        using var fixture = new TrainingFixture(records: 12);
        var plan = fixture.Plan(fixture.Recipe(maxSteps: 1));
        new LoraTrainer(plan).Run();
        using var model = LoraModel.Load(plan.OutputDirectory);

        var error = Assert.Throws<NotSupportedException>(() => model.Classify("text"));
        Assert.Contains("causal-lm", error.Message);
    }
}
