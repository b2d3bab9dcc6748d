using LoraRecipes.Recipes;

namespace LoraRecipes.Export;

/// <summary>The README.md of an export folder: what is in it, how to launch it, how the adapter comes back.</summary>
public static class ExportReadme
{
    /// <summary>The README text.</summary>
    public static string Text(ExportContext x, ExportEngine engine, string recipeFromExport)
    {
        var r = x.Recipe;
        string display = ExportNames.Display(engine);
        string config = engine == ExportEngine.Axolotl ? AxolotlExporter.ConfigFile : LlamaFactoryExporter.ConfigFile;
        string install = engine == ExportEngine.Axolotl ? "pip install \"axolotl[deepspeed]\"" : "pip install \"llamafactory[torch,metrics,deepspeed]\"";
        string dataNote = engine == ExportEngine.Axolotl
            ? "`input_output` rows: text segments with a `label` each (false = masked from the loss)"
            : "sharegpt rows (`human` = masked prompt text, `gpt` = trained text), registered in `data/dataset_info.json`";
        return $"""
            # {r.Name}: a LoraRecipes recipe exported for {display}

            Recipe: `{recipeFromExport}` (task {YamlNames.ToYaml(r.Task, ["causal-lm", "sequence-classification"])}, base model `{r.BaseModel}`).
            Sharding: {ExportNames.Of(x.Launcher)} (`{LaunchFiles.ConfigPath(x.Launcher)}`{(engine == ExportEngine.Axolotl && x.Launcher == ExportLauncher.Fsdp ? " is inline in " + config : "")}).

            | file | what |
            | --- | --- |
            | `{config}` | the engine config; every recipe value is mapped (see the comments) |
            | `data/train.jsonl` | {x.Data.Train.Count} training records, in the data file's order: {dataNote} |
            | `data/validation.jsonl` | {x.Data.Validation.Count} validation records: the split `dotnet lora run` holds out (same seed, same code) |
            | `launch/single_node.sh` | 1 node × N GPUs (`NPROC`, default: every GPU `nvidia-smi` lists) |
            | `launch/multi_node.sh` | M nodes × N GPUs: run on every node with `NNODES`, `NODE_RANK`, `MASTER_ADDR`, `MASTER_PORT` |
            {(r.BaseModel.StartsWith(BaseModelReference.BuiltinPrefix, StringComparison.Ordinal) ? "| `base_model/` | the builtin model, written as a Hugging Face checkpoint folder |\n" : "")}{(r.Evaluation.Samples.Count > 0 ? "| `samples.txt` | the recipe's evaluation samples (the engines generate none during training) |\n" : "")}
            ## Run

            ```bash
            {install}
            NPROC=8 launch/single_node.sh
            ```

            The prompt template, BOS and EOS are already in the data (rendered by LoraRecipes with the recipe's
            `data.prompt_template`), so the engine only tokenizes: the tokens and the loss mask are the ones
            `dotnet lora run` trains on. `training.batch_size` is per GPU: the effective batch is
            batch_size × gradient_accumulation × GPUs ({r.Training.BatchSize} × {r.Training.GradientAccumulation} × N here);
            lower `gradient_accumulation` in the recipe and export again to keep the recipe's global batch.

            ## Back into the build

            The adapter lands in `output/` (PEFT layout: `adapter_config.json` + `adapter_model.safetensors`). Then:

            ```bash
            dotnet lora import-adapter output --recipe {recipeFromExport} --trainer "{display}"
            ```

            checks it against the recipe (base model, targets, r, alpha, tensor names and shapes) and writes the
            recipe's artifact folder with its fingerprint, so `<LoraRecipe>` builds see it as up to date and never
            retrain it. {(r.Evaluation.Samples.Count > 0 ? "Then `dotnet lora generate --adapter <output.dir> --prompt \"…\"` runs the samples in `samples.txt`." : "")}
            """ + "\n";
    }
}
