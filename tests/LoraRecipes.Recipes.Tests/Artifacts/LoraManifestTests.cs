using System.Text.Json.Nodes;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Recipes.Tests.Artifacts;

public sealed class LoraManifestTests : IDisposable
{
    /// <summary>A manifest exactly as the trainer wrote it before format 2 (a sequence classifier's, with null metrics).</summary>
    private const string FormatOne = """
        {
          "format_version": 1,
          "name": "sentiment",
          "fingerprint": "96cddbb9964f7c2959ab4ce3876fdaea4a9965cf616f0cc2f65f318e2afd1122",
          "created_utc": "2026-11-30T13:16:00.8995849Z",
          "tool": { "name": "LoraRecipes", "version": "0.1.0", "torchsharp": "0.107.0", "libtorch": "2.10.0.0" },
          "seed": 42,
          "inputs": [ { "path": "/data/sentiment-train.jsonl", "sha256": "96fe797df508d3cc4f8d83364e95159021cb8b840a65f30a39a8638c9a620fbc", "bytes": 294500 } ],
          "environment": { "device": "cpu", "threads": 2, "precision": "fp32", "os": "Debian GNU/Linux 12 (bookworm)", "arch": "X64", "native_compat_fix": true },
          "base_model": { "spec": "builtin:tiny-distilbert", "folder": "/cache/tiny-distilbert", "model_type": "distilbert", "parameters": 502914, "source": null },
          "adapter": { "modules": 4, "trainable_parameters": 24962 },
          "metrics": {
            "initial_validation_loss": 0.698164046856395,
            "final_validation_loss": 0.7133785454850448,
            "final_validation_perplexity": null,
            "final_validation_f1": 0.31736526946107785
          },
          "steps": 8,
          "skipped_steps": 0,
          "resumed_from": null,
          "wall_seconds": 1.58,
          "tokens_per_second": 18058.3,
          "trained_tokens": 10144,
          "peak_memory_bytes": 260366336,
          "labels": { "num_labels": 2, "id2label": { "0": "negative", "1": "positive" }, "label2id": { "negative": 0, "positive": 1 } }
        }
        """;

    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AFormatOneManifestReadsEveryField()
    {
        var m = LoraManifest.Parse(FormatOne, "lora-manifest.json");
        Assert.Equal(1, m.FormatVersion);
        Assert.Equal("sentiment", m.Name);
        Assert.Equal("96cddbb9964f7c2959ab4ce3876fdaea4a9965cf616f0cc2f65f318e2afd1122", m.Fingerprint);
        Assert.Equal(("0.107.0", "2.10.0.0"), (m.Tool!.TorchSharp, m.Tool.LibTorch));
        Assert.Equal(294500, Assert.Single(m.Inputs).Bytes);
        Assert.Equal("96fe797df508d3cc4f8d83364e95159021cb8b840a65f30a39a8638c9a620fbc", m.Inputs[0].Sha256);
        Assert.Equal((2, true), (m.Environment!.Threads, m.Environment.NativeCompatFix));
        Assert.Equal(("distilbert", 502914L), (m.BaseModel!.ModelType, m.BaseModel.Parameters));
        Assert.Equal(24962, m.Adapter!.TrainableParameters);
        Assert.Equal(["initial_validation_loss", "final_validation_loss", "final_validation_perplexity", "final_validation_f1"], m.Metrics.Keys);
        Assert.Null(m.Metrics["final_validation_perplexity"]);
        Assert.Equal(0.7133785454850448, m.Metrics["final_validation_loss"]);
        Assert.Equal((8, 0, (int?)null), (m.Steps, m.SkippedSteps, m.ResumedFrom));
        Assert.Equal((1.58, 18058.3, 10144L, 260366336L), (m.WallSeconds, m.TokensPerSecond, m.TrainedTokens, m.PeakMemoryBytes));
        Assert.Equal(["negative", "positive"], m.Labels!.ToList("x"));
        Assert.Null(m.Provenance);   // format 1 kept it in recipe.resolved.yaml's comment header
    }

    [Fact]
    public void AManifestWithoutAFormatVersionIsFormatOne()
    {
        var m = LoraManifest.Parse("""{"fingerprint": "f", "inputs": [{"path": "data.txt", "sha256": "ab", "bytes": 3}]}""", "m.json");
        Assert.Equal(1, m.FormatVersion);
        Assert.Equal("f", m.Fingerprint);
        Assert.Equal("data.txt", Assert.Single(m.Inputs).Path);
        Assert.Empty(m.Metrics);
    }

    [Fact]
    public void WritingAFormatOneManifestBackKeepsEveryKeyAndValue()
    {
        // Independent check: the JSON trees, old text against the re-serialised record (nulls included).
        var original = JsonNode.Parse(FormatOne)!.AsObject();
        var rewritten = JsonNode.Parse(LoraManifest.Parse(FormatOne, "m.json").ToJson())!.AsObject();
        Assert.True(JsonNode.DeepEquals(original, rewritten), rewritten.ToJsonString());
    }

    [Fact]
    public void AFormatTwoManifestRoundTripsThroughTheFile()
    {
        var written = new LoraManifest
        {
            Name = "medical-qa",
            Fingerprint = new string('a', 64),
            CreatedUtc = "2026-11-30T12:00:00.0000000Z",
            Tool = new ManifestTool { Name = "LoraRecipes", Version = "0.1.0", TorchSharp = "0.107.0", LibTorch = "2.10.0" },
            Provenance = new ManifestProvenance { SourceRecipe = "/r/medical.yaml", Overrides = ["lora.r=8", "training.seed=7"] },
            Seed = 7,
            Inputs = [new ManifestInput { Path = "/r/data.json", Sha256 = new string('b', 64), Bytes = 12 }],
            Metrics = new Dictionary<string, double?> { ["final_validation_loss"] = 1.25, ["final_validation_perplexity"] = double.NaN, ["x"] = null },
            Steps = 3,
            ResumedFrom = 2,
            BaseModel = new ManifestBaseModel { Spec = "builtin:tiny-llama", Source = JsonNode.Parse("""{"package": "p", "version": "1"}""") },
            Labels = ManifestLabels.From(["a", "b", "c"]),
        };
        string path = Path.Combine(_dir.Root, ArtifactFiles.Manifest);
        written.Write(path);
        var read = LoraManifest.Read(path);

        Assert.Equal(LoraManifest.CurrentFormatVersion, read.FormatVersion);
        Assert.Equal(2, read.FormatVersion);
        Assert.Equal(written.ToJson(), read.ToJson());
        Assert.Equal(["lora.r=8", "training.seed=7"], read.Provenance!.Overrides!);
        Assert.Equal("/r/medical.yaml", read.Provenance.SourceRecipe);
        Assert.True(double.IsNaN(read.Metrics["final_validation_perplexity"]!.Value));
        Assert.Equal(["a", "b", "c"], read.Labels!.ToList(path));
        Assert.Equal(2, read.Labels.Label2Id!["c"]);
        // snake_case on disk, as PEFT's files and every earlier manifest.
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal("/r/medical.yaml", (string?)json["provenance"]!["source_recipe"]);
        Assert.Equal(2, (int?)json["resumed_from"]);
        Assert.Equal(2, (int?)json["labels"]!["label2id"]!["c"]);
    }

    [Fact]
    public void KeysOfANewerWriterSurviveARewrite()
    {
        var m = LoraManifest.Parse("""{"format_version": 9, "fingerprint": "f", "future": {"a": [1, 2]}}""", "m.json");
        Assert.Equal(9, m.FormatVersion);
        Assert.Equal("""{"a":[1,2]}""", m.Extra!["future"]!.ToJsonString());
        Assert.Contains("\"future\"", m.ToJson());
    }

    [Theory]
    [InlineData("{not json", "line 1")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("""{"steps": "eight"}""", "$.steps")]
    [InlineData("""{"inputs": {"path": "x"}}""", "$.inputs")]
    public void AnInvalidManifestNamesTheFileAndTheField(string json, string expected)
    {
        string path = _dir.Write("bad/lora-manifest.json", json);
        var ex = Assert.Throws<ArtifactFormatException>(() => LoraManifest.TryRead(Path.GetDirectoryName(path)!));
        Assert.Equal(path, ex.Path);
        Assert.StartsWith(path + ": ", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void LabelsWhoseIdsAreNotZeroToNAreRefused()
    {
        var labels = new ManifestLabels { NumLabels = 2, Id2Label = new Dictionary<string, string> { ["0"] = "a", ["2"] = "b" } };
        Assert.Contains("'2' is not an id in 0..1", Assert.Throws<ArtifactFormatException>(() => labels.ToList("m.json")).Message);
        Assert.Equal(["LABEL_0", "LABEL_1", "LABEL_2"], new ManifestLabels { NumLabels = 3 }.ToList("m.json"));
    }

    [Fact]
    public void AFolderIsCurrentOnlyWithThePlansFingerprintAndTheAdapterFiles()
    {
        string folder = Path.Combine(_dir.Root, "out");
        Assert.False(LoraManifest.IsCurrent(folder, "f"));
        Directory.CreateDirectory(folder);
        new LoraManifest { Fingerprint = "f" }.Write(Path.Combine(folder, ArtifactFiles.Manifest));
        Assert.False(LoraManifest.IsCurrent(folder, "f"));   // no adapter files yet
        foreach (string name in ArtifactFiles.Required) File.WriteAllText(Path.Combine(folder, name), "x");
        Assert.True(LoraManifest.IsCurrent(folder, "f"));
        Assert.False(LoraManifest.IsCurrent(folder, "g"));
        File.WriteAllText(Path.Combine(folder, ArtifactFiles.Manifest), "{torn");
        Assert.False(LoraManifest.IsCurrent(folder, "f"));
    }
}
