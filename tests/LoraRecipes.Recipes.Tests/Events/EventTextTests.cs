using LoraRecipes.Events;

namespace LoraRecipes.Recipes.Tests.Events;

/// <summary>The run header names what the method adapted, and nothing for a method that wraps no module.</summary>
public sealed class EventTextTests
{
    private static string Header(params string[] modules) =>
        EventText.Line(new RunStarted("r", "cpu", 2, 10, 1000, modules, 8, 2, 4, 1, "f"))!;

    [Fact]
    public void TheHeaderCountsAdaptedModulesAndLeavesThemOutForFreeze()
    {
        Assert.Contains("(1.00%), 2 adapted modules, 8 train / 2 validation examples", Header("a.q_proj", "a.v_proj"));
        Assert.Contains("(1.00%), 1 adapted module, 8 train", Header("prompt_encoder"));
        Assert.Contains("(1.00%), 8 train / 2 validation examples", Header());   // method: freeze trains whole blocks in place
    }
}
