using LoraRecipes.Events;
using Microsoft.Build.Framework;

namespace LoraRecipes.Build.Tests;

/// <summary>The trainer's NDJSON events → build errors, warnings and messages (and lines that are not events).</summary>
public sealed class TrainerOutputTests
{
    private static readonly TrainingSummary Summary = new(10, 2.5, 1.5, 1.4, 12.0, 900, 9000, 512L << 20);

    private static TrainerLine Single(TrainingEvent e, string verbosity = "minimal") => Assert.Single(TrainerOutput.Map(EventJson.Serialize(e), verbosity));

    [Fact]
    public void A_diagnostic_event_maps_to_file_line_column_and_code()
    {
        var d = new DiagnosticReported("error", "LORA012", "recipes/medical.yaml", 12, 5, "lora.r must be an integer, got 'abc'", "Write a whole number.");

        Assert.Equal(new TrainerLine(TrainerLineKind.Error, "recipes/medical.yaml", 12, 5, "LORA012",
            "lora.r must be an integer, got 'abc'. Write a whole number."), Single(d));
        Assert.Equal(TrainerLineKind.Warning, Single(d with { Severity = "warning", Code = "LORA024" }).Kind);
    }

    [Fact]
    public void A_failure_is_an_error_with_the_code_of_its_kind_and_no_file()
    {
        var failed = new RunFailed(FailureKind.TrainingFailed, FailureCodes.TrainingFailed, "step 3: the training loss is NaN", 3);

        Assert.Equal(new TrainerLine(TrainerLineKind.Error, null, 0, 0, "LORA911", "step 3: the training loss is NaN"), Single(failed));
        Assert.Equal("LORA910", Single(new RunFailed(FailureKind.InvalidInput, FailureCodes.InvalidInput, "x", 1)).Code);
    }

    [Fact]
    public void Warnings_and_skipped_steps_are_build_warnings()
    {
        Assert.Equal(new TrainerLine(TrainerLineKind.Warning, null, 0, 0, null, "3 record(s) were truncated."), Single(new RunWarning("3 record(s) were truncated.")));
        var skipped = Single(new StepSkipped(4, "the training loss is NaN", 1, 2));
        Assert.Equal(TrainerLineKind.Warning, skipped.Kind);
        Assert.Equal("step 4 skipped: the training loss is NaN (1 in a row, 2 in all)", skipped.Text);
    }

    [Theory]
    [InlineData("minimal", MessageImportance.Normal)]
    [InlineData("normal", MessageImportance.High)]
    [InlineData("detailed", MessageImportance.High)]
    [InlineData("quiet", MessageImportance.Low)]
    public void Steps_are_quieter_than_the_run_header_at_minimal(string verbosity, MessageImportance expected)
    {
        var step = Single(new StepCompleted(1, 40, 0.1, 2.1, 1e-4, 1.0, 4000, 512), verbosity);
        Assert.Equal(TrainerLineKind.Message, step.Kind);
        Assert.Equal("  step 1/40 epoch 0.10 loss 2.1000 lr 1.00E-004 grad_norm 1.000 4000 tok/s", step.Text);
        Assert.Equal(expected, step.Importance);

        var header = Single(new RunStarted("tiny", "cpu", 2, 100, 1000, ["q_proj"], 10, 2, 40, 1, "abc"), verbosity);
        Assert.Equal(verbosity == "quiet" ? MessageImportance.Low : MessageImportance.High, header.Importance);
        Assert.Equal(expected, Single(new SampleGenerated(2, "p", "c"), verbosity).Importance);
    }

    [Fact]
    public void Steps_between_milestones_are_not_logged() =>
        Assert.Empty(TrainerOutput.Map(EventJson.Serialize(new StepCompleted(3, 40, 0.1, 2.1, 1e-4, 1.0, 4000, 512)), "detailed"));

    [Fact]
    public void The_completion_logs_the_summary_lines()
    {
        var lines = TrainerOutput.Map(EventJson.Serialize(new RunCompleted("/out/tiny", Summary)), "minimal");

        Assert.Equal(["  validation loss: 2.5000 before → 1.5000 after (-40.0%)", "  10 steps in 12.0 s, 900 tokens/s, peak memory 512 MiB", "  adapter: /out/tiny"],
            lines.Select(l => l.Text));
        Assert.All(lines, l => Assert.Equal(MessageImportance.High, l.Importance));
    }

    [Theory]
    [InlineData("Unhandled exception. System.InvalidOperationException: boom")]
    [InlineData("recipes/medical.yaml(12,5): error LORA012: looks canonical but is plain text")]
    public void A_line_that_is_not_json_is_surfaced_as_a_visible_message_not_parsed(string text)
    {
        var line = Assert.Single(TrainerOutput.Map(text, "minimal"));
        Assert.Equal(new TrainerLine(TrainerLineKind.Message, null, 0, 0, null, text, MessageImportance.High), line);
    }

    [Theory]
    [InlineData("{\"type\":\"step\",\"v\":1,\"step\":")]                       // cut off
    [InlineData("{\"step\":3}")]                                               // no type
    [InlineData("{\"type\":\"step\",\"step\":3}")]                              // no schema version
    [InlineData("{\"type\":\"step\",\"v\":1,\"step\":\"three\"}")]              // wrong field type
    public void A_broken_json_line_is_a_warning_that_quotes_it(string text)
    {
        var line = Assert.Single(TrainerOutput.Map(text, "quiet"));
        Assert.Equal(TrainerLineKind.Warning, line.Kind);
        Assert.Equal(TrainerOutput.MalformedEventCode, line.Code);
        Assert.EndsWith(text, line.Text);
    }

    [Fact]
    public void An_event_type_from_a_newer_trainer_is_kept_as_a_message()
    {
        const string text = "{\"type\":\"gpu_memory\",\"v\":1,\"bytes\":5}";
        var line = Assert.Single(TrainerOutput.Map(text, "minimal"));
        Assert.Equal(TrainerLineKind.Message, line.Kind);
        Assert.Contains("gpu_memory", line.Text);
        Assert.Equal(TrainerLineKind.Message, Assert.Single(TrainerOutput.Map("{\"type\":\"step\",\"v\":2,\"step\":1}", "minimal")).Kind);
    }

    [Fact]
    public void Blank_lines_log_nothing() => Assert.Empty(TrainerOutput.Map("", "normal"));

    [Fact]
    public void Overrides_metadata_splits_into_set_arguments() =>
        Assert.Equal(["lora.r=8", "training.epochs=1"], LoraPlanRecipes.SplitOverrides(" lora.r=8 ;;training.epochs=1"));
}
