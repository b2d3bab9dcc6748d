using System.Text.Json.Nodes;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary><c>run</c>, <c>eval</c> and <c>plan</c> on a tiny sequence-classification recipe (CSV train data, JSONL test data).</summary>
public sealed class ClassificationCommandTests : IDisposable
{
    private readonly RecipeFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Recipe()
    {
        var random = new Random(3);
        string[] filler = ["the", "film", "was", "a", "story", "about", "people", "and", "music"];
        string Text(bool positive) => string.Join(' ', Enumerable.Range(0, 6).Select(_ => filler[random.Next(filler.Length)]).Append(positive ? "wonderful" : "terrible"));
        _folder.Write("train.csv", "text,label\n" + string.Join("\n", Enumerable.Range(0, 24).Select(i => $"\"{Text(i % 2 == 0)}\",{(i % 2 == 0 ? "positive" : "negative")}")) + "\n");
        _folder.Write("test.jsonl", string.Join("\n", Enumerable.Range(0, 8).Select(i => $"{{\"text\": \"{Text(i % 2 == 0)}\", \"label\": \"{(i % 2 == 0 ? "positive" : "negative")}\"}}")) + "\n");
        return _folder.Write("cls.yaml", """
            name: cls
            base_model: builtin:tiny-distilbert
            task: sequence-classification
            data:
              train: train.csv
              validation: test.jsonl
              format: classification
              max_length: 16
            lora:
              r: 4
              alpha: 32
              target_modules: [q_lin]
            training:
              epochs: 2
              batch_size: 8
              learning_rate: 5e-3
              threads: 2
            evaluation:
              metrics: [loss, accuracy, f1]
            output:
              dir: out
            """);
    }

    [Fact]
    public void Run_prints_accuracy_before_and_after_and_eval_json_ends_with_accuracy_f1_and_the_confusion_matrix()
    {
        string recipe = Recipe();
        var (code, output) = CliRunner.Run("run", recipe);
        Assert.True(code == 0, output);
        Assert.Matches(@"eval @ step 0: validation loss [0-9.]+ accuracy [0-9.]+ ?% f1 [0-9.]+ \(8 examples\); confusion \[actual→predicted\] negative:\[\d+,\d+\] positive:\[\d+,\d+\]", output);
        Assert.Matches(@"validation accuracy: [0-9.]+ ?% before → [0-9.]+ ?% after \(macro-F1 [0-9.]+\)", output);

        string adapter = Path.Combine(_folder.Directory, "out");
        (code, output) = CliRunner.Run("eval", "--adapter", adapter, "--data", Path.Combine(_folder.Directory, "test.jsonl"), "--json");
        Assert.True(code == 0, output);
        var json = JsonNode.Parse(output.TrimEnd().Split('\n')[^1])!.AsObject();
        Assert.Equal(["loss", "accuracy", "f1", "labels", "confusion_matrix", "records"], json.Select(p => p.Key));
        Assert.InRange((double)json["accuracy"]!, 0, 1);
        Assert.InRange((double)json["f1"]!, 0, 1);
        Assert.Equal(["negative", "positive"], json["labels"]!.AsArray().Select(l => (string)l!));
        var matrix = json["confusion_matrix"]!.AsArray().Select(row => row!.AsArray().Select(n => (int)n!).ToArray()).ToArray();
        Assert.Equal(2, matrix.Length);
        Assert.Equal(8, matrix.Sum(r => r.Sum()));
        Assert.Equal(8, (int)json["records"]!);

        (code, output) = CliRunner.Run("eval", "--adapter", adapter, "--data", Path.Combine(_folder.Directory, "test.jsonl"));
        Assert.True(code == 0, output);
        Assert.Contains("confusion matrix (rows: actual, columns: predicted)", output);

        (code, output) = CliRunner.Run("eval", "--adapter", adapter, "--data", Path.Combine(_folder.Directory, "test.jsonl"), "--metrics", "bleu");
        Assert.Equal(2, code);
        Assert.Contains("causal-lm adapter", output);

        // The trained classifier ships to ONNX Runtime (logits checked against ORT in LoraRecipes.Tests' OnnxExportTests).
        string onnx = Path.Combine(_folder.Directory, "cls.onnx");
        (code, output) = CliRunner.Run("merge", adapter, "--format", "onnx", "--out", onnx);
        Assert.True(code == 0, output);
        Assert.Matches(@"exported .*cls\.onnx: ONNX opset 17, distilbert, 2 merged LoRA layers, [0-9.]+ MiB in [0-9.]+ s", output);
        Assert.Contains("logits (float [batch, 2]): negative, positive", output);
        Assert.True(new FileInfo(onnx).Length > 1 << 20);
        Assert.Equal(1, CliRunner.Run("merge", adapter, "--format", "onnx", "--out", onnx).ExitCode);   // exists, no --force
        Assert.Equal(0, CliRunner.Run("merge", adapter, "--format", "onnx", "--out", onnx, "--force").ExitCode);
    }

    [Fact]
    public void Plan_shows_targets_by_name_the_head_and_the_PEFT_parameter_line()
    {
        var (code, output) = CliRunner.Run("plan", Recipe());
        Assert.True(code == 0, output);
        Assert.Contains("q_lin (2): distilbert.transformer.layer.{0..1}.attention.q_lin", output);
        Assert.Contains("modules_to_save (trained in full, saved with the adapter): pre_classifier, classifier (16,770 params)", output);
        Assert.Matches(@"trainable params: 18,818 \|\| all params: [0-9,]+ \|\| trainable%: [0-9.]+", output);
    }
}
