using System.Text.Json.Nodes;
using LoraRecipes.Bench.Survey;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Bench.Tests;

/// <summary>
/// The survey runner without training: survey files, a hand-made artifact folder (manifest + adapter file) and eval
/// output read into a row, and the tables and JSON built from rows, compared with hand-written expectations.
/// </summary>
public sealed class SurveyTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("lora-survey-test-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LoraRecipes.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    [Fact]
    public void The_shipped_surveys_name_existing_recipes_and_the_rows_the_docs_list()
    {
        var sentiment = SurveySpec.Load(Path.Combine(RepoRoot(), "bench", "survey", "sentiment.yaml"));
        Assert.Equal(["head-only", "lora-qv", "lora-all-linear", "dora", "pissa", "olora", "ia3", "bottleneck-adapter", "freeze-top2", "prompt-tuning", "p-tuning", "prefix-tuning", "prefix-tuning-proj"], sentiment.Rows.Select(r => r.Name));
        Assert.True(File.Exists(sentiment.Recipe), sentiment.Recipe);
        Assert.EndsWith(Path.Combine("recipes", "sentiment.yaml"), sentiment.Recipe);
        Assert.True(File.Exists(sentiment.Test), sentiment.Test);
        Assert.Equal(["lora.target_modules=[]"], sentiment.Rows[0].Overrides);
        Assert.Empty(sentiment.Rows[1].Overrides);

        var medical = SurveySpec.Load(Path.Combine(RepoRoot(), "bench", "survey", "medical.yaml"));
        Assert.Equal(["lora", "dora", "pissa", "ia3", "bottleneck-adapter", "freeze-top1", "prompt-tuning", "p-tuning", "prefix-tuning", "prefix-tuning-proj"], medical.Rows.Select(r => r.Name));
        Assert.True(File.Exists(medical.Recipe), medical.Recipe);
        Assert.Null(medical.Test);
        Assert.Equal(["method=ia3"], medical.Rows[3].Overrides);
        Assert.Equal(["method=freeze", "freeze.trainable_layers=1"], medical.Rows[5].Overrides);
    }

    [Fact]
    public void A_row_is_one_line_and_rows_are_selected_in_file_order()
    {
        var spec = SurveySpec.Parse("""
            recipe: r.yaml
            set: [training.max_steps=3]
            rows:
              - { name: a, set: [method=ia3] }
              - { name: b, set: "lora.r=4" }
              - { name: c }
            """, Path.Combine(_folder, "s.yaml"));
        Assert.Equal(Path.Combine(_folder, "r.yaml"), spec.Recipe);
        Assert.Equal(["training.max_steps=3"], spec.Overrides);
        Assert.Equal(["lora.r=4"], spec.Rows[1].Overrides);
        Assert.Equal(["a", "c"], spec.Select(["c", "a"]).Rows.Select(r => r.Name));
        var unknown = Assert.Throws<SurveyException>(() => spec.Select(["d"]));
        Assert.Contains("no row named 'd'; the rows are a, b, c", unknown.Message);
    }

    [Theory]
    [InlineData("recipe: r.yaml\nrows:\n  - { name: a, sett: [] }\n", "s.yaml:3:16: unknown key 'sett'")]
    [InlineData("recipe: r.yaml\nrows:\n  - { name: a, set: [nothing] }\n", "s.yaml:3:22: 'nothing' is not a key=value override")]
    [InlineData("recipe: r.yaml\nrows:\n  - { name: a }\n  - { name: a }\n", "s.yaml:4:5: a second row named 'a'")]
    [InlineData("rows:\n  - { name: a }\n", "'recipe' is missing")]
    [InlineData("recipe: r.yaml\nrows: []\n", "'rows' must be a non-empty list")]
    public void Bad_survey_files_say_where(string yaml, string expected)
    {
        var ex = Assert.Throws<SurveyException>(() => SurveySpec.Parse(yaml, Path.Combine(_folder, "s.yaml")));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Options_collect_rows_and_repeated_overrides()
    {
        var o = SurveyOptions.Parse(["--survey", "medical", "--rows", "lora, ia3", "--set", "training.max_steps=2", "--set", "evaluation.samples=[]", "--json", "x.json"]);
        Assert.Equal(["lora", "ia3"], o.Rows!);
        Assert.Equal(["training.max_steps=2", "evaluation.samples=[]"], o.Overrides);
        Assert.Equal("x.json", o.Json);
        Assert.Equal(Path.Combine("/repo", "bench", "survey", "medical.yaml"), o.SurveyFile("/repo"));
        Assert.Contains("expected KEY=VALUE", Assert.Throws<SurveyException>(() => SurveyOptions.Parse(["--survey", "m", "--set", "oops"])).Message);
        Assert.Contains("unknown option --bogus", Assert.Throws<SurveyException>(() => SurveyOptions.Parse(["--survey", "m", "--bogus"])).Message);
    }

    /// <summary>An artifact folder as `dotnet lora run` leaves it, for a DoRA classification run.</summary>
    private string ClassificationArtifact()
    {
        string folder = Path.Combine(_folder, "dora");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, ArtifactFiles.AdapterWeights), new byte[913_408]);   // 892.0 KiB
        new LoraManifest
        {
            Name = "sentiment",
            Adapter = new ManifestAdapter { Modules = 12, TrainableParameters = 226_946, Method = new ManifestMethod { Name = "lora", UseDora = true, Init = "default" } },
            Metrics = new Dictionary<string, double?>
            {
                ["initial_validation_loss"] = 0.71, ["final_validation_loss"] = 0.25, ["final_validation_perplexity"] = null, ["final_train_loss"] = 0.2,
                ["initial_validation_accuracy"] = 0.524, ["final_validation_accuracy"] = 0.9171, ["final_validation_f1"] = 0.91749,
            },
            Steps = 464,
            WallSeconds = 85.04,
            TokensPerSecond = 1990.4,
            PeakMemoryBytes = 875L * 1024 * 1024,
            Labels = new ManifestLabels { NumLabels = 2 },
        }.Write(Path.Combine(folder, ArtifactFiles.Manifest));
        return folder;
    }

    [Fact]
    public void A_classification_row_reads_the_manifest_the_adapter_size_and_the_test_metrics()
    {
        var row = SurveyResult.FromArtifact("dora", ["lora.use_dora=true"], ClassificationArtifact())
            .WithEvaluation("loading…\n{\"loss\":0.3111,\"accuracy\":0.9047,\"f1\":0.9046,\"labels\":[\"negative\",\"positive\"],\"confusion_matrix\":[[192,24],[17,197]],\"records\":430}\n");

        Assert.True(row.Succeeded);
        Assert.True(row.Classification);
        Assert.Equal("lora + dora", row.Method);
        Assert.Equal(226_946, row.TrainableParameters);
        Assert.Equal(913_408, row.AdapterBytes);
        Assert.Equal(0.9047, row.TestAccuracy);
        Assert.Equal(0.9046, row.TestF1);

        string table = SurveyReport.Table([row, SurveyResult.Failed("ia3", ["method=ia3"], "training (exit 3): LORA911: step 2: the training loss is NaN")]);
        string[] lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("| row | method | trainable parameters | validation accuracy before → after | validation macro-F1 | test accuracy | test macro-F1 | steps | training time | tokens/s | peak memory | adapter size |", lines[0]);
        Assert.Equal("| dora | lora + dora | 226,946 | 52.4 % → 91.7 % | 0.917 | 90.5 % | 0.905 | 464 | 85.0 s | 1990 | 875 MiB | 892.0 KiB |", lines[2]);
        Assert.Equal("| ia3 | **failed**: training (exit 3): LORA911: step 2: the training loss is NaN | | | | | | | | | | |", lines[3]);
        // Every line has the header's number of columns.
        Assert.All(lines, l => Assert.Equal(lines[0].Count(c => c == '|'), l.Count(c => c == '|')));
    }

    [Fact]
    public void A_causal_lm_row_shows_the_validation_loss_and_a_failed_evaluation_keeps_the_training_figures()
    {
        string folder = Path.Combine(_folder, "pissa");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, ArtifactFiles.AdapterWeights), new byte[3 * 1024 * 1024 + 104_858]);   // 3.1 MiB
        new LoraManifest
        {
            Adapter = new ManifestAdapter { TrainableParameters = 28_672, Method = new ManifestMethod { Name = "lora", Init = "pissa", Conversion = "…" } },
            Metrics = new Dictionary<string, double?> { ["initial_validation_loss"] = 8.17303, ["final_validation_loss"] = 6.51234, ["final_train_loss"] = 6.4 },
            Steps = 96,
            WallSeconds = 120.26,
            TokensPerSecond = 1433.6,
            PeakMemoryBytes = 600L * 1024 * 1024 + 1,
        }.Write(Path.Combine(folder, ArtifactFiles.Manifest));

        var row = SurveyResult.FromArtifact("pissa", [], folder);
        Assert.False(row.Classification);
        var failedEval = row with { Error = "evaluation (exit 1): cannot read test.jsonl" };
        string[] lines = SurveyReport.Table([row, failedEval]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("| row | method | trainable parameters | validation loss before → after | steps | training time | tokens/s | peak memory | adapter size |", lines[0]);
        Assert.Equal("| pissa | lora, init pissa | 28,672 | 8.1730 → 6.5123 | 96 | 120.3 s | 1434 | 600 MiB | 3.1 MiB |", lines[2]);
        Assert.StartsWith("| pissa | lora, init pissa (**failed**: evaluation (exit 1): cannot read test.jsonl) | 28,672 |", lines[3]);

        var json = SurveyReport.Json(new SurveySpec("s.yaml", "r.yaml", null, [], []), [row, failedEval], ["training.max_steps=2"], "cmd", DateTime.UnixEpoch, DateTime.UnixEpoch);
        var rows = json["rows"]!.AsArray();
        Assert.Equal("causal-lm", (string?)rows[0]!["task"]);
        Assert.Equal(28_672, (long)rows[0]!["trainable_parameters"]!);
        Assert.Equal(6.51234, (double)rows[0]!["final_validation_loss"]!);
        Assert.Null(rows[0]!["test_accuracy"]);
        Assert.False((bool)rows[1]!["succeeded"]!);
        Assert.Equal(["training.max_steps=2"], json["overrides"]!.AsArray().Select(n => (string)n!));
    }

    [Fact]
    public void A_folder_without_a_manifest_or_eval_output_without_json_is_an_error_not_a_row_of_nulls()
    {
        Assert.Throws<SurveyException>(() => SurveyResult.FromArtifact("x", [], _folder));
        var row = SurveyResult.FromArtifact("dora", [], ClassificationArtifact());
        Assert.Contains("no JSON object", Assert.Throws<SurveyException>(() => row.WithEvaluation("error: something\n")).Message);
    }

    [Fact]
    public void A_failure_is_told_by_its_run_failed_event_else_its_diagnostics_else_the_last_stderr_line()
    {
        string failed = """
            {"type":"run_started","v":1,"name":"x"}
            {"type":"run_failed","v":1,"kind":"training_failed","code":"LORA911","message":"step 2: the training loss is NaN.","exit_code":3}
            """;
        Assert.Equal("LORA911: step 2: the training loss is NaN.", SurveyRunner.FailureMessage(failed, "ignored"));
        string diagnostic = """{"type":"diagnostic","v":1,"severity":"error","code":"LORA014","file":"--set method=nope","line":1,"column":8,"message":"method must be one of lora, ia3","hint":null}""";
        string warning = """{"type":"diagnostic","v":1,"severity":"warning","code":"LORA024","file":"r.yaml","line":3,"column":1,"message":"ignored","hint":null}""";
        Assert.Equal("--set method=nope:1:8: LORA014: method must be one of lora, ia3", SurveyRunner.FailureMessage(warning + "\n" + diagnostic + "\n", ""));
        Assert.Equal("Unhandled exception: boom", SurveyRunner.FailureMessage("not json\n", "trace line\nUnhandled exception: boom\n"));
        Assert.Equal("last words", SurveyRunner.FailureMessage("first\nlast words\n", ""));
    }

    [Fact]
    public void Row_names_become_safe_folder_names() =>
        Assert.Equal("lora-q-v-all_1.5", SurveyRunner.FolderName("lora q+v/all_1.5"));

    [Fact]
    public void Row_json_has_every_key_even_when_failed()
    {
        var ok = SurveyResult.FromArtifact("dora", [], ClassificationArtifact()).ToJson();
        var failed = SurveyResult.Failed("x", [], "boom").ToJson();
        Assert.Equal(ok.Select(p => p.Key), failed.Select(p => p.Key));
        Assert.Equal("boom", (string?)failed["error"]);
        Assert.Null(failed["task"]);
        Assert.Equal("sequence-classification", (string?)ok["task"]);
        Assert.IsType<JsonObject>(ok);
    }
}
