using LoraRecipes.Recipes;

namespace LoraRecipes.Export;

/// <summary>
/// Writes a LLaMA-Factory run: <c>llamafactory.yaml</c> (keys of <c>src/llamafactory/hparams/*.py</c>, grouped as
/// <c>examples/train_lora/*.yaml</c> groups them), <c>data/dataset_info.json</c> with sharegpt entries, the data
/// rendered here into human/gpt turns, the DeepSpeed or FSDP config, and the launch scripts. <c>template: empty</c>
/// adds nothing (no system text, no BOS, no EOS: <c>src/llamafactory/data/template.py</c>), so the turns carry our
/// template's text and the tokenizer's BOS/EOS written out, which the tokenizer reads back as the special tokens.
/// </summary>
public static class LlamaFactoryExporter
{
    /// <summary>The LLaMA-Factory release whose arguments this export follows (read at 0.9.3.dev0).</summary>
    public const string TargetVersion = "0.9.3";

    /// <summary>The config file name.</summary>
    public const string ConfigFile = "llamafactory.yaml";

    /// <summary>The files of the export, relative path → text.</summary>
    public static IReadOnlyDictionary<string, string> Files(ExportContext x, string header)
    {
        string name = x.Recipe.Name;
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ConfigFile] = Config(x, header),
            ["data/dataset_info.json"] = DatasetInfo(name),
            ["data/train.jsonl"] = ExportData.ToSharegptJsonl(x.Data.Train),
            ["data/validation.jsonl"] = ExportData.ToSharegptJsonl(x.Data.Validation),
        };
        int? threads = x.Recipe.Training.Threads;
        if (x.Launcher == ExportLauncher.Fsdp)
        {
            string[] accelerate =
            [
                "accelerate launch --config_file " + LaunchFiles.ConfigPath(x.Launcher),
                "--num_processes \"$((NPROC * NNODES))\" --num_machines \"$NNODES\" --machine_rank \"$NODE_RANK\"",
                "--main_process_ip \"$MASTER_ADDR\" --main_process_port \"$MASTER_PORT\"",
                "-m llamafactory.launcher " + ConfigFile,
            ];
            files["launch/single_node.sh"] = LaunchFiles.Script("1 node × N GPUs (LLaMA-Factory, FSDP through accelerate).", "NPROC=8 launch/single_node.sh", accelerate, threads);
            files["launch/multi_node.sh"] = LaunchFiles.Script("M nodes × N GPUs (LLaMA-Factory, FSDP through accelerate); run it on every node with its NODE_RANK.",
                "NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 NPROC=8 launch/multi_node.sh", accelerate, threads);
        }
        else
        {
            files["launch/single_node.sh"] = LaunchFiles.Script("1 node × N GPUs (LLaMA-Factory through torchrun).", "NPROC=8 launch/single_node.sh",
                ["FORCE_TORCHRUN=1 NNODES=1 NPROC_PER_NODE=\"$NPROC\"", "llamafactory-cli train " + ConfigFile], threads);
            files["launch/multi_node.sh"] = LaunchFiles.Script("M nodes × N GPUs (LLaMA-Factory through torchrun); run it on every node with its NODE_RANK.",
                "NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 NPROC=8 launch/multi_node.sh",
                ["FORCE_TORCHRUN=1 NNODES=\"$NNODES\" NODE_RANK=\"$NODE_RANK\" NPROC_PER_NODE=\"$NPROC\"", "MASTER_ADDR=\"$MASTER_ADDR\" MASTER_PORT=\"$MASTER_PORT\"", "llamafactory-cli train " + ConfigFile],
                threads);
        }
        files[LaunchFiles.ConfigPath(x.Launcher)] = LaunchFiles.ConfigText(x.Launcher);
        return files;
    }

    private static string DatasetInfo(string name)
    {
        var info = new System.Text.Json.Nodes.JsonObject();
        foreach (string split in new[] { "train", "validation" })
        {
            info[$"{name}_{split}"] = new System.Text.Json.Nodes.JsonObject
            {
                ["file_name"] = $"{split}.jsonl",
                ["formatting"] = "sharegpt",
                ["columns"] = new System.Text.Json.Nodes.JsonObject { ["messages"] = "conversations" },
                ["tags"] = new System.Text.Json.Nodes.JsonObject { ["role_tag"] = "from", ["content_tag"] = "value", ["user_tag"] = "human", ["assistant_tag"] = "gpt" },
            };
        }
        return info.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string Config(ExportContext x, string header)
    {
        var r = x.Recipe;
        var y = new YamlText();
        foreach (string line in header.Split('\n')) y.Comment(line);

        y.Section("model");
        y.Key("model_name_or_path", x.BaseModel);
        if (x.Revision is not null) y.Key("model_revision", x.Revision);

        y.Section("method (recipe lora.*)");
        y.Key("stage", "sft");
        y.Key("do_train", true);
        y.Key("finetuning_type", "lora");
        y.Key("lora_rank", r.Lora.R);
        y.Key("lora_alpha", (long)r.Lora.Alpha);
        y.Key("lora_dropout", r.Lora.Dropout);
        y.Key("lora_target", r.Lora.TargetsAllLinear ? "all" : string.Join(",", x.Targets));
        y.Key("use_rslora", r.Lora.UseRslora);
        if (r.Lora.ModulesToSave.Count > 0) y.Key("additional_target", string.Join(",", r.Lora.ModulesToSave));

        y.Section("dataset (recipe data.*): rendered by LoraRecipes; template empty adds nothing");
        y.Key("dataset_dir", "data");
        y.Key("dataset", $"{r.Name}_train");
        if (x.Evaluates) y.Key("eval_dataset", $"{r.Name}_validation");
        y.Key("template", "empty");
        y.Key("cutoff_len", r.Data.MaxLength);
        y.Key("train_on_prompt", r.Data.TrainOnInputs);
        y.Key("packing", r.Data.Packing);
        if (r.Data.Packing) y.Key("neat_packing", true, "packed samples do not attend to each other, as in LoraRecipes");
        y.Key("overwrite_cache", true);
        y.Key("preprocessing_num_workers", 4);

        y.Section("output");
        y.Key("output_dir", "./output");
        y.Key("run_name", r.Name);
        y.Key("logging_steps", 1);
        y.Key("save_steps", r.Training.CheckpointEvery);
        y.Key("plot_loss", true);
        y.Key("overwrite_output_dir", true);
        y.Key("report_to", "none");

        y.Section("train (recipe training.*)");
        y.Key("per_device_train_batch_size", r.Training.BatchSize);
        y.Key("gradient_accumulation_steps", r.Training.GradientAccumulation);
        y.Key("learning_rate", r.Training.LearningRate);
        y.Key("num_train_epochs", (double)r.Training.Epochs);
        if (r.Training.MaxSteps is { } maxSteps) y.Key("max_steps", maxSteps);
        y.Key("lr_scheduler_type", x.HfScheduler);
        y.Key("warmup_ratio", r.Training.WarmupRatio);
        y.Key("weight_decay", r.Training.WeightDecay);
        y.Key("max_grad_norm", r.Training.MaxGradNorm ?? 0.0);
        y.Key("optim", "adamw_torch");
        y.Key("seed", r.Training.Seed);
        switch (r.Training.Precision)
        {
            case Precision.Auto or Precision.Bf16: y.Key("bf16", true); break;
            case Precision.Fp16: y.Key("fp16", true); break;
            default: y.Key("bf16", false).Key("fp16", false); break;
        }
        if (x.Launcher != ExportLauncher.Fsdp) y.Key("deepspeed", LaunchFiles.ConfigPath(x.Launcher));

        y.Section("eval (recipe evaluation.*)");
        if (!x.Evaluates) y.Key("eval_strategy", "no");
        else
        {
            y.Key("per_device_eval_batch_size", r.Training.BatchSize);
            if (r.Evaluation.Schedule == EvaluationSchedule.Steps) y.Key("eval_strategy", "steps").Key("eval_steps", r.Evaluation.EverySteps!.Value);
            else y.Key("eval_strategy", "epoch");
        }
        return y.ToString();
    }
}
