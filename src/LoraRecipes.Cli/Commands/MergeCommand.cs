using System.CommandLine;
using System.Diagnostics;
using LoraRecipes.Artifacts;
using LoraRecipes.Artifacts.OnnxExport;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora merge &lt;adapter&gt; --output DIR</c>: fold the adapter into the base and write an HF checkpoint folder;
/// with <c>--format onnx</c>, one ONNX file of the merged classifier for ONNX Runtime.
/// </summary>
internal static class MergeCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var adapter = new Argument<string>("adapter") { Description = "Adapter folder (adapter_config.json + adapter_model.safetensors)." };
        var output = new Option<string>("--output", "-o", "--out")
        {
            Description = "hf: folder for the merged checkpoint (config.json, model.safetensors, tokenizer files); onnx: the .onnx file.",
            Required = true,
        };
        var format = new Option<string>("--format")
        {
            Description = "hf: a Hugging Face checkpoint folder; onnx: one ONNX model (opset 17) of a BERT/DistilBERT classifier.",
            DefaultValueFactory = _ => "hf",
        };
        format.AcceptOnlyFromAmong("hf", "onnx");
        var baseModel = new Option<string?>("--base") { Description = "Base model: builtin:<name> or an HF folder (default: the adapter's base_model_name_or_path)." };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty output folder (hf) or an existing file (onnx)." };
        var command = new Command("merge", "Merge an adapter into its base model (W + scale·B·A) and write a plain HF checkpoint usable as base_model, " +
            "or a classifier as ONNX for ONNX Runtime.")
            { adapter, output, format, baseModel, force };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            string folder = parse.GetValue(adapter)!;
            try
            {
                return parse.GetValue(format) == "onnx"
                    ? ExportOnnx(console, folder, parse.GetValue(output)!, parse.GetValue(baseModel), parse.GetValue(force))
                    : MergeHf(console, folder, parse.GetValue(output)!, parse.GetValue(baseModel), parse.GetValue(force));
            }
            catch (IOException ex)
            {
                CommonOptions.PrintError(console, ex.Message);
                return ExitCodes.InvalidInput;
            }
        }));
        return command;
    }

    private static int MergeHf(IAnsiConsole console, string folder, string output, string? baseModel, bool force)
    {
        var adapter = AdapterFolder.Open(folder);
        string spec = adapter.BaseModel(baseModel);
        int layers = MergedCheckpointWriter.Write(adapter, spec, output, force);
        string target = Path.GetFullPath(output);
        if (adapter.Config.IsFreeze)
            console.MarkupLineInterpolated($"substituted the freeze delta of {folder} (blocks {string.Join(", ", adapter.Config.LayersToTransform)} of {adapter.Config.NumLayers}) into {spec}: {target}");
        else console.MarkupLineInterpolated($"merged {layers} LoRA layers of {folder} into {spec}: {target}");
        console.MarkupLineInterpolated($"use it as a base model: base_model: {target}");
        return ExitCodes.Success;
    }

    private static int ExportOnnx(IAnsiConsole console, string folder, string output, string? baseModel, bool force)
    {
        var clock = Stopwatch.StartNew();
        var result = OnnxClassifierExporter.Write(folder, output, baseModel, force);
        console.MarkupLineInterpolated(
            $"exported {result.Path}: ONNX opset 17, {result.ModelType}, {result.MergedLayers} merged LoRA layers, {result.Bytes / 1048576.0:0.0} MiB in {clock.Elapsed.TotalSeconds:0.0} s");
        console.MarkupLineInterpolated(
            $"ONNX Runtime: input_ids, attention_mask (int64 [[batch, sequence]]) → logits (float [[batch, {result.Labels.Count}]]): {string.Join(", ", result.Labels)}");
        return ExitCodes.Success;
    }
}
