using System.Text.Json;
using LoraRecipes.Data;
using LoraRecipes.Export;
using LoraRecipes.Models;
using LoraRecipes.Tests.IO;
using LoraRecipes.Tokenization;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Export;

/// <summary>The exported data is the data <c>dotnet lora run</c> trains on: same split, same order, same tokens and mask.</summary>
public sealed class ExportDataTests
{
    [Fact]
    public void ValidationSplitAndOrderAreTheTrainersAndSegmentsTokenizeToTheTrainersExamples()
    {
        using var temp = new TempDirectory();
        var plan = ExportFixture.Plan(ExportFixture.Recipe("medical.yaml"));
        string folder = ExportFixture.Export(temp.Path, plan, ExportEngine.Axolotl, ExportLauncher.DeepSpeedZero2);
        var tokenizer = TextTokenizer.Load(ModelLoader.ResolveFolder(plan.BaseModel));
        using var trained = TrainingData.Load(plan, tokenizer);   // what `dotnet lora run` trains and validates on

        var train = Rows(Path.Combine(folder, "data", "train.jsonl"));
        var validation = Rows(Path.Combine(folder, "data", "validation.jsonl"));
        Assert.Equal(trained.Train.Count, train.Count);
        Assert.Equal(trained.Validation.Count, validation.Count);
        Assert.True(validation.Count > 0);

        // axolotl's input_output: each segment tokenized alone, labels -100 unless "label" (input_output.py).
        for (int i = 0; i < train.Count; i++) AssertSameExample(trained.Train[i], train[i], tokenizer);
        for (int i = 0; i < validation.Count; i++) AssertSameExample(trained.Validation[i], validation[i], tokenizer);

        // The responses follow the data file's order, and are the records the trainer holds out.
        var outputs = JsonDocument.Parse(File.ReadAllText(plan.TrainPath)).RootElement.EnumerateArray().Select(r => r.GetProperty("output").GetString()!).ToList();
        Assert.Equal(trained.Validation.Select(e => outputs[e.RecordNumber - 1]), validation.Select(Response));
        Assert.Equal(trained.Train.Select(e => outputs[e.RecordNumber - 1]), train.Select(Response));
    }

    [Fact]
    public void SharegptTurnsCarryTheSameTextAndMask()
    {
        using var temp = new TempDirectory();
        var plan = ExportFixture.Plan(ExportFixture.Recipe("medical.yaml"));
        string folder = ExportFixture.Export(temp.Path, plan, ExportEngine.LlamaFactory, ExportLauncher.DeepSpeedZero2);
        string axolotl = ExportFixture.Export(temp.Path, plan, ExportEngine.Axolotl, ExportLauncher.DeepSpeedZero2);
        var segments = Rows(Path.Combine(axolotl, "data", "train.jsonl"));
        var turns = File.ReadAllLines(Path.Combine(folder, "data", "train.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("conversations").EnumerateArray()
                .Select(t => (Trained: t.GetProperty("from").GetString() == "gpt", Text: t.GetProperty("value").GetString()!)).ToList()).ToList();
        Assert.Equal(segments.Count, turns.Count);
        for (int i = 0; i < turns.Count; i++)
        {
            Assert.Equal("human", turns[i][0].Trained ? "gpt" : "human");
            Assert.Equal(string.Concat(segments[i].Where(s => !s.Trained).Select(s => s.Text)), string.Concat(turns[i].Where(t => !t.Trained).Select(t => t.Text)));
            Assert.Equal(string.Concat(segments[i].Where(s => s.Trained).Select(s => s.Text)), string.Concat(turns[i].Where(t => t.Trained).Select(t => t.Text)));
        }
    }

    private static void AssertSameExample(TokenizedExample expected, IReadOnlyList<(bool Trained, string Text)> segments, TextTokenizer tokenizer)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        foreach (var (trained, text) in segments)
        {
            foreach (int id in tokenizer.Encode(text)) { ids.Add(id); labels.Add(trained ? id : ExampleEncoder.IgnoreIndex); }
        }
        // excess_length_strategy: truncate keeps the first sequence_len tokens, as the trainer does.
        int max = expected.InputIds.Length;
        Assert.Equal(expected.InputIds, ids.Take(max));
        Assert.Equal(expected.Labels, labels.Take(max));
    }

    private static string Response(IReadOnlyList<(bool Trained, string Text)> segments) => segments.Where(s => s.Trained).ToList() switch
    {
        var trained => string.Concat(trained.Take(trained.Count - 1).Select(s => s.Text)),   // the last trained segment is EOS
    };

    private static List<IReadOnlyList<(bool Trained, string Text)>> Rows(string path) =>
        File.ReadAllLines(path).Select(l => (IReadOnlyList<(bool, string)>)JsonDocument.Parse(l).RootElement.GetProperty("segments").EnumerateArray()
            .Select(s => (s.GetProperty("label").GetBoolean(), s.GetProperty("text").GetString()!)).ToList()).ToList();
}
