using LoraRecipes.Recipes.Schema;

namespace LoraRecipes.Recipes.Tests.Schema;

public sealed class SuggestionsTests
{
    [Theory]
    [InlineData("rank", "r")]                       // prefix
    [InlineData("learnig_rate", "learning_rate")]   // one deletion
    [InlineData("eopchs", "epochs")]                // adjacent swap counts once (Damerau)
    [InlineData("target", "target_modules")]        // prefix
    [InlineData("zzz", null)]
    public void Closest(string typed, string? expected)
    {
        string[] keys = ["r", "alpha", "epochs", "learning_rate", "target_modules", "dropout"];

        Assert.Equal(expected, Suggestions.Closest(typed, keys));
    }

    [Theory]
    [InlineData("abc", "abc", 0)]
    [InlineData("abc", "acb", 1)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("", "abc", 3)]
    public void Distance(string a, string b, int expected) => Assert.Equal(expected, Suggestions.Distance(a, b));
}
