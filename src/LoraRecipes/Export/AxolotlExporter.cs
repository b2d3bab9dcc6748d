using LoraRecipes.Recipes;

namespace LoraRecipes.Export;

/// <summary>
/// Writes an axolotl run: <c>axolotl.yaml</c>, the data as <c>input_output</c> segments (rendered here, labels
/// carrying the prompt mask), the DeepSpeed or FSDP config, and the launch scripts. Keys follow axolotl's pydantic
/// schema (<c>src/axolotl/utils/schemas/config.py</c>, <c>peft.py</c>, <c>training.py</c>) and the
/// <c>input_output</c> strategy (<c>src/axolotl/prompt_strategies/input_output.py</c>: each segment tokenized with
/// <c>add_special_tokens=False</c>, labels -100 unless <c>label</c> or <c>train_on_inputs</c>; no BOS/EOS added).
/// </summary>
public static class AxolotlExporter
{
    /// <summary>The axolotl release whose config schema this export follows (read at 0.15.0.dev0).</summary>
    public const string TargetVersion = "0.15";

    /// <summary>The config file name.</summary>
    public const string ConfigFile = "axolotl.yaml";

    /// <summary>The files of the export, relative path → text.</summary>
    public static IReadOnlyDictionary<string, string> Files(ExportContext x, string header)
    {
        bool trainOnInputs = x.Recipe.Data.TrainOnInputs;
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ConfigFile] = Config(x, header),
            ["data/train.jsonl"] = ExportData.ToAxolotlJsonl(x.Data.Train, trainOnInputs),
            ["data/validation.jsonl"] = ExportData.ToAxolotlJsonl(x.Data.Validation, trainOnInputs),
            ["launch/single_node.sh"] = LaunchFiles.Script("1 node × N GPUs (axolotl through accelerate).", "NPROC=8 launch/single_node.sh",
                ["accelerate launch --num_processes \"$NPROC\" --num_machines 1", "-m axolotl.cli.train " + ConfigFile], x.Recipe.Training.Threads),
            ["launch/multi_node.sh"] = LaunchFiles.Script("M nodes × N GPUs (axolotl through torchrun); run it on every node with its NODE_RANK.",
                "NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 NPROC=8 launch/multi_node.sh",
                ["torchrun --nnodes \"$NNODES\" --nproc_per_node \"$NPROC\" --node_rank \"$NODE_RANK\"", "--master_addr \"$MASTER_ADDR\" --master_port \"$MASTER_PORT\"", "-m axolotl.cli.train " + ConfigFile],
                x.Recipe.Training.Threads),
        };
        if (x.Launcher != ExportLauncher.Fsdp) files[LaunchFiles.ConfigPath(x.Launcher)] = LaunchFiles.ConfigText(x.Launcher);
        return files;
    }

    private static string Config(ExportContext x, string header)
    {
        var r = x.Recipe;
        var y = new YamlText();
        foreach (string line in header.Split('\n')) y.Comment(line);

        y.Section("model");
        y.Key("base_model", x.BaseModel);
        if (x.Revision is not null) y.Key("revision_of_model", x.Revision);

        y.Section("lora (recipe lora.*)");
        y.Key("adapter", "lora");
        y.Key("lora_r", r.Lora.R);
        y.Key("lora_alpha", (long)r.Lora.Alpha);
        y.Key("lora_dropout", r.Lora.Dropout);
        if (r.Lora.TargetsAllLinear) y.Key("lora_target_linear", true);
        else y.Key("lora_target_modules", x.Targets);
        y.Key("peft_use_rslora", r.Lora.UseRslora);
        if (r.Lora.Init == LoraInit.Gaussian) y.Key("peft_init_lora_weights", "gaussian");
        if (r.Lora.ModulesToSave.Count > 0) y.Key("lora_modules_to_save", r.Lora.ModulesToSave);

        y.Section("data (recipe data.*): rendered by LoraRecipes, tokenized segment by segment");
        y.List("datasets", [[("path", "data/train.jsonl"), ("ds_type", "json"), ("type", "input_output")]]);
        if (x.Evaluates)
            y.List("test_datasets", [[("path", "data/validation.jsonl"), ("ds_type", "json"), ("split", "train"), ("type", "input_output")]]);
        y.Key("val_set_size", 0.0, "the validation split is data/validation.jsonl, made by LoraRecipes");
        y.Key("dataset_prepared_path", "prepared");
        y.Key("train_on_inputs", r.Data.TrainOnInputs);
        y.Key("sequence_len", r.Data.MaxLength);
        y.Key("excess_length_strategy", "truncate", "as LoraRecipes: keep the first max_length tokens");
        y.Key("sample_packing", r.Data.Packing);
        y.Key("eval_sample_packing", r.Data.Packing);

        y.Section("training (recipe training.*)");
        y.Key("num_epochs", r.Training.Epochs);
        if (r.Training.MaxSteps is { } maxSteps) y.Key("max_steps", maxSteps);
        y.Key("micro_batch_size", r.Training.BatchSize, "per GPU");
        y.Key("eval_batch_size", r.Training.BatchSize);
        y.Key("gradient_accumulation_steps", r.Training.GradientAccumulation);
        y.Key("optimizer", "adamw_torch");
        y.Key("adam_beta1", 0.9);
        y.Key("adam_beta2", 0.999);
        y.Key("adam_epsilon", 1e-8);
        y.Key("learning_rate", r.Training.LearningRate);
        y.Key("weight_decay", r.Training.WeightDecay);
        y.Key("lr_scheduler", x.HfScheduler);
        y.Key("warmup_ratio", r.Training.WarmupRatio);
        y.Key("max_grad_norm", r.Training.MaxGradNorm ?? 0.0);
        y.Key("seed", r.Training.Seed);
        WritePrecision(y, r.Training.Precision);
        y.Key("save_steps", r.Training.CheckpointEvery);
        y.Key("logging_steps", 1);

        y.Section("evaluation (recipe evaluation.*)");
        if (!x.Evaluates) y.Comment("no validation data or evaluation.every: never — no evaluation during training");
        else if (r.Evaluation.Schedule == EvaluationSchedule.Steps) y.Key("eval_steps", r.Evaluation.EverySteps!.Value);
        else y.Key("evals_per_epoch", 1);

        y.Section("output and sharing");
        y.Key("output_dir", "./output");
        if (x.Launcher == ExportLauncher.Fsdp) WriteFsdp(y, x.ModelType);
        else y.Key("deepspeed", LaunchFiles.ConfigPath(x.Launcher));
        return y.ToString();
    }

    private static void WritePrecision(YamlText y, Precision precision)
    {
        switch (precision)
        {
            case Precision.Auto: y.Key("bf16", "auto"); break;
            case Precision.Bf16: y.Key("bf16", true); break;
            case Precision.Fp16: y.Key("fp16", true); break;
            default: y.Key("bf16", false).Key("fp16", false).Key("tf32", false); break;
        }
    }

    private static void WriteFsdp(YamlText y, string? modelType)
    {
        y.Key("fsdp_version", 2);
        var entries = new List<(string, object?)>
        {
            ("offload_params", false),
            ("cpu_ram_efficient_loading", true),
            ("auto_wrap_policy", "TRANSFORMER_BASED_WRAP"),
            ("state_dict_type", "FULL_STATE_DICT"),
            ("reshard_after_forward", true),
        };
        if (DecoderLayer(modelType) is { } layer) entries.Add(("transformer_layer_cls_to_wrap", layer));
        y.Map("fsdp_config", entries);
    }

    /// <summary>transformers' decoder-layer class for the families LoraRecipes loads; null for others.</summary>
    private static string? DecoderLayer(string? modelType) => modelType switch
    {
        "llama" => "LlamaDecoderLayer",
        "mistral" => "MistralDecoderLayer",
        "qwen2" => "Qwen2DecoderLayer",
        "qwen3" => "Qwen3DecoderLayer",
        "gpt2" => "GPT2Block",
        _ => null,
    };
}
