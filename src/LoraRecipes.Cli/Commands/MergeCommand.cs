using System.CommandLine;
using LoraRecipes.Artifacts;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora merge &lt;adapter&gt; --output DIR</c>: fold the adapter into the base and write an HF checkpoint folder.</summary>
internal static class MergeCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var adapter = new Argument<string>("adapter") { Description = "Adapter folder (adapter_config.json + adapter_model.safetensors)." };
        var output = new Option<string>("--output", "-o") { Description = "Folder for the merged checkpoint (config.json, model.safetensors, tokenizer files).", Required = true };
        var baseModel = new Option<string?>("--base") { Description = "Base model: builtin:<name> or an HF folder (default: the adapter's base_model_name_or_path)." };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty output folder." };
        var command = new Command("merge", "Merge an adapter into its base model (W + scale·B·A) and write a plain HF checkpoint usable as base_model.")
            { adapter, output, baseModel, force };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            string folder = parse.GetValue(adapter)!;
            string spec = parse.GetValue(baseModel) ?? PeftAdapterConfig.Load(Path.Combine(folder, ArtifactWriter.AdapterConfigFile)).BaseModelNameOrPath;
            try
            {
                int layers = MergedCheckpointWriter.Write(folder, spec, parse.GetValue(output)!, parse.GetValue(force));
                string target = Path.GetFullPath(parse.GetValue(output)!);
                console.MarkupLineInterpolated($"merged {layers} LoRA layers of {folder} into {spec}: {target}");
                console.MarkupLineInterpolated($"use it as a base model: base_model: {target}");
                return ExitCodes.Success;
            }
            catch (IOException ex)
            {
                CommonOptions.PrintError(console, ex.Message);
                return ExitCodes.InvalidInput;
            }
        }));
        return command;
    }
}
