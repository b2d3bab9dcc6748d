using System.Reflection;
using System.Text.RegularExpressions;

namespace LoraRecipes.Recipes.Tests.Diagnostics;

public sealed class RecipeDiagnosticTests
{
    [Fact]
    public void ToString_is_the_canonical_msbuild_form()
    {
        var d = new RecipeDiagnostic("recipes/medical.yaml", 12, 5, "LORA012", DiagnosticSeverity.Error, "lora.r must be an integer, got 'abc'", "Write a whole number.");

        Assert.Equal("recipes/medical.yaml(12,5): error LORA012: lora.r must be an integer, got 'abc'. Write a whole number.", d.ToString());
    }

    [Fact]
    public void Warning_without_position_or_hint()
    {
        var d = new RecipeDiagnostic("r.yaml", 0, 0, "LORA024", DiagnosticSeverity.Warning, "Ignored");

        Assert.Equal("r.yaml: warning LORA024: Ignored.", d.ToString());
    }

    [Fact]
    public void Codes_are_unique_sequential_and_all_documented_in_ERROR_CODES_md()
    {
        var codes = typeof(RecipeErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (string)f.GetRawConstantValue()!).ToList();
        Assert.Equal(Enumerable.Range(1, codes.Count).Select(i => $"LORA{i:000}"), codes.Order());

        var doc = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "ERROR-CODES.md"));
        var documented = Regex.Matches(doc, @"^\| (LORA\d{3}) \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value);
        Assert.Equal(codes.Order(), documented);
    }
}
