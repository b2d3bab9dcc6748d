using System.Text.Json.Nodes;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary><c>run --log-format json</c> and <c>--log-file</c>: the NDJSON event stream of a tiny run (docs/events.md).</summary>
public sealed class RunEventStreamTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>Every line parsed as a known event (a line that is not fails the test, naming it).</summary>
    private static List<TrainingEvent> Parse(string ndjson) => ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
    {
        var parsed = EventJson.Parse(line);
        Assert.True(parsed.Event is not null, $"not an event ({parsed.Error ?? parsed.Type}): {line}");
        return parsed.Event!;
    }).ToList();

    [Fact]
    public void JsonRunWritesOnlyEventsInTheOrderOfTheRunAndTheSameToTheLogFile()
    {
        string logFile = Path.Combine(_folder.Directory, "logs", "run.ndjson");
        var (code, output) = CliRunner.Run("run", _folder.Recipe, "--log-format", "json", "--log-file", logFile);
        Assert.True(code == 0, output);

        var events = Parse(output);
        // max_steps 2 of 3 batches: step 0 evaluated with its sample, two steps, the epoch-end checkpoint, the final evaluation.
        Assert.Equal(
            ["run_started", "eval", "sample", "step", "step", "checkpoint", "eval", "sample", "run_completed"],
            events.Where(e => e is not RunWarning).Select(e => EventJson.Serialize(e).Split('"')[3]));
        Assert.Equal(output.Replace("\r\n", "\n"), File.ReadAllText(logFile));

        // The stream agrees with what the run wrote: the summary with the evaluations, metrics.jsonl with the steps.
        var evals = events.OfType<EvaluationCompleted>().ToList();
        var summary = events.OfType<RunCompleted>().Single().Summary;
        Assert.Equal(evals[0].Loss, summary.InitialValidationLoss);
        Assert.Equal(evals[^1].Loss, summary.FinalValidationLoss);
        var trainLines = File.ReadAllLines(Path.Combine(_folder.Directory, "out", "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(n => (string?)n["type"] == "train");
        Assert.Equal(events.OfType<StepCompleted>().Select(s => s.Loss), trainLines.Select(n => (double)n["loss"]!));
    }

    [Fact]
    public void TextRunKeepsItsLinesForPeopleAndWritesEventsToTheLogFile()
    {
        string logFile = Path.Combine(_folder.Directory, "run.ndjson");
        var (code, output) = CliRunner.Run("run", _folder.Recipe, "--log-file", logFile);
        Assert.True(code == 0, output);
        Assert.Contains("step 1/2", output);
        Assert.Contains("validation loss:", output);
        Assert.DoesNotContain("\"type\":", output);
        var events = Parse(File.ReadAllText(logFile));
        Assert.IsType<RunStarted>(events[0]);
        Assert.IsType<RunCompleted>(events[^1]);
    }

    [Fact]
    public void AnInvalidRecipeIsADiagnosticEventWithItsPosition()
    {
        var (code, output) = CliRunner.Run("run", _folder.Recipe, "--set", "lora.r=abc", "--log-format", "json");
        Assert.Equal(ExitCodes.InvalidInput, code);
        var d = Assert.IsType<DiagnosticReported>(Assert.Single(Parse(output)));
        Assert.Equal(("error", "LORA012", "--set lora.r=abc", 1, 8), (d.Severity, d.Code, d.File, d.Line, d.Column));
    }

    [Fact]
    public void AFailedRunEndsWithRunFailedCarryingItsCodeAndExitCode()
    {
        // Every prompt is longer than max_length: nothing left to train on (invalid input, exit code 1).
        var (code, output) = CliRunner.Run("run", _folder.Recipe, "--set", "data.max_length=8", "--log-format", "json");
        Assert.Equal(ExitCodes.InvalidInput, code);
        var failed = Assert.IsType<RunFailed>(Parse(output)[^1]);
        Assert.Equal((FailureKind.InvalidInput, "LORA910", ExitCodes.InvalidInput), (failed.Kind, failed.Code, failed.ExitCode));
        Assert.Contains("no usable training example", failed.Message);
    }

    [Fact]
    public void AnUnknownLogFormatIsAUsageError() =>
        Assert.Equal(ExitCodes.Usage, CliRunner.Run("run", _folder.Recipe, "--log-format", "xml").ExitCode);
}
