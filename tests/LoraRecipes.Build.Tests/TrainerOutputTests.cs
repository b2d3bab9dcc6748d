using Microsoft.Build.Framework;

namespace LoraRecipes.Build.Tests;

public sealed class TrainerOutputTests
{
    [Fact]
    public void Canonical_positioned_line_maps_to_file_line_column_and_code()
    {
        var line = TrainerOutput.Parse("recipes/medical.yaml(12,5): error LORA012: lora.r must be an integer, got 'abc'. Write a whole number.");

        Assert.Equal(new TrainerLine(TrainerLineKind.Error, "recipes/medical.yaml", 12, 5, "LORA012",
            "lora.r must be an integer, got 'abc'. Write a whole number."), line);
    }

    [Fact]
    public void Canonical_line_without_position_and_warnings_map_too()
    {
        Assert.Equal(new TrainerLine(TrainerLineKind.Error, "/data/recipe.yaml", 0, 0, "LORA002", "recipe not found."),
            TrainerOutput.Parse("/data/recipe.yaml: error LORA002: recipe not found."));
        Assert.Equal(TrainerLineKind.Warning, TrainerOutput.Parse("r.yaml(3,1): warning LORA024: ignored.").Kind);
    }

    [Fact]
    public void Plain_cli_failure_is_an_error_without_a_file()
    {
        Assert.Equal(new TrainerLine(TrainerLineKind.Error, null, 0, 0, null, "data.jsonl line 3: not JSON"),
            TrainerOutput.Parse("error: data.jsonl line 3: not JSON"));
    }

    [Theory]
    [InlineData("step 3/10 epoch 0.30 loss 2.1000 lr 1.00E-004 grad_norm 1.000 4000 tok/s")]
    [InlineData("eval @ step 2: validation loss 7.9045 perplexity 2709.47 (30 tokens)")]
    [InlineData("sample @ step 2: prompt (12,5): error → not an error")]
    public void Progress_lines_are_messages(string text) =>
        Assert.Equal(TrainerLineKind.Message, TrainerOutput.Parse(text).Kind);

    [Theory]
    [InlineData("minimal", "step 1/2 loss 1", MessageImportance.Normal)]
    [InlineData("minimal", "training tiny on cpu", MessageImportance.High)]
    [InlineData("normal", "step 1/2 loss 1", MessageImportance.High)]
    [InlineData("quiet", "training tiny on cpu", MessageImportance.Low)]
    public void Verbosity_sets_message_importance(string verbosity, string text, MessageImportance expected) =>
        Assert.Equal(expected, TrainerOutput.Importance(text, verbosity));

    [Fact]
    public void Overrides_metadata_splits_into_set_arguments() =>
        Assert.Equal(["lora.r=8", "training.epochs=1"], LoraPlanRecipes.SplitOverrides(" lora.r=8 ;;training.epochs=1"));
}
