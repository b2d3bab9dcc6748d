using System.CommandLine;
using LoraRecipes.Models.Onnx;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora import onnx &lt;model.onnx&gt; [--tokenizer vocab.txt|tokenizer.json] --out &lt;folder&gt;</c>: a BERT-family
/// encoder exported by torch.onnx or Optimum → a Hugging Face BERT folder usable as <c>base_model</c>.
/// </summary>
internal static class ImportCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var command = new Command("import", "Import a model from another format into a Hugging Face checkpoint folder usable as base_model.");
        command.Subcommands.Add(Onnx(console));
        return command;
    }

    private static Command Onnx(IAnsiConsole console)
    {
        var model = new Argument<FileInfo>("model") { Description = "The .onnx file of a BERT-family encoder (torch.onnx or Optimum export, weights inside the file)." };
        var tokenizer = new Option<FileInfo?>("--tokenizer") { Description = "vocab.txt or tokenizer.json (default: the one beside the model)." };
        var output = new Option<DirectoryInfo>("--out") { Description = "The folder to create (must not exist or be empty).", Required = true };
        var command = new Command("onnx", "Import a BERT encoder from ONNX: HF weight names recovered from the graph, MatMul transposes undone, config inferred and checked against the shapes.")
        {
            model, tokenizer, output,
        };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var result = OnnxModelImport.ImportToFolder(parse.GetValue(model)!.FullName, parse.GetValue(tokenizer)?.FullName, parse.GetValue(output)!.FullName);
            var c = result.Config;
            console.WriteLine($"imported {result.TensorCount} tensors: bert, {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads} heads, "
                + $"intermediate {c.IntermediateSize}, vocab {c.VocabSize}, {c.ParameterCount():N0} parameters (with a 2-label head)");
            foreach (string note in result.Notes) console.MarkupLineInterpolated($"[yellow]note:[/] {note}");
            console.WriteLine($"{result.Folder} (tokenizer: {result.TokenizerFile}); use it as base_model with task: sequence-classification.");
            return ExitCodes.Success;
        }));
        return command;
    }
}
