using System.Text.Json.Nodes;

namespace LoraRecipes.Export;

/// <summary>
/// The sharding config files written beside the engine config: DeepSpeed ZeRO-2/3 JSON in HF Trainer's "auto"
/// form (batch sizes, clipping and precision come from the engine config, never twice), and accelerate's FSDP
/// config. The transformer layer to wrap is left to the model's <c>_no_split_modules</c> (accelerate's default).
/// </summary>
public static class LaunchFiles
{
    /// <summary>The config file for <paramref name="launcher"/>, relative to the export folder.</summary>
    public static string ConfigPath(ExportLauncher launcher) => launcher switch
    {
        ExportLauncher.DeepSpeedZero2 => "launch/deepspeed_zero2.json",
        ExportLauncher.DeepSpeedZero3 => "launch/deepspeed_zero3.json",
        _ => "launch/accelerate_fsdp.yaml",
    };

    /// <summary>The file text for <paramref name="launcher"/>.</summary>
    public static string ConfigText(ExportLauncher launcher) => launcher == ExportLauncher.Fsdp ? FsdpAccelerate() : DeepSpeed(launcher == ExportLauncher.DeepSpeedZero3 ? 3 : 2);

    private static string DeepSpeed(int stage)
    {
        var zero = new JsonObject
        {
            ["stage"] = stage,
            ["overlap_comm"] = true,
            ["contiguous_gradients"] = true,
            ["reduce_bucket_size"] = "auto",
        };
        if (stage == 2)
        {
            zero["allgather_partitions"] = true;
            zero["allgather_bucket_size"] = 500000000;
            zero["reduce_scatter"] = true;
        }
        else
        {
            zero["sub_group_size"] = 1000000000;
            zero["stage3_prefetch_bucket_size"] = "auto";
            zero["stage3_param_persistence_threshold"] = "auto";
            zero["stage3_max_live_parameters"] = 1000000000;
            zero["stage3_max_reuse_distance"] = 1000000000;
            zero["stage3_gather_16bit_weights_on_model_save"] = true;
        }
        var root = new JsonObject
        {
            ["train_batch_size"] = "auto",
            ["train_micro_batch_size_per_gpu"] = "auto",
            ["gradient_accumulation_steps"] = "auto",
            ["gradient_clipping"] = "auto",
            ["zero_allow_untested_optimizer"] = true,
            ["bf16"] = new JsonObject { ["enabled"] = "auto" },
            ["fp16"] = new JsonObject { ["enabled"] = "auto", ["loss_scale"] = 0, ["loss_scale_window"] = 1000, ["initial_scale_power"] = 16, ["hysteresis"] = 2, ["min_loss_scale"] = 1 },
            ["zero_optimization"] = zero,
        };
        return root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string FsdpAccelerate() => new YamlText()
        .Comment("accelerate FSDP config (full shard). num_processes / num_machines / machine_rank are passed by the launch scripts.")
        .Key("compute_environment", "LOCAL_MACHINE")
        .Key("distributed_type", "FSDP")
        .Key("downcast_bf16", "no")
        .Map("fsdp_config",
        [
            ("fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP"),
            ("fsdp_backward_prefetch", "BACKWARD_PRE"),
            ("fsdp_cpu_ram_efficient_loading", true),
            ("fsdp_forward_prefetch", false),
            ("fsdp_offload_params", false),
            ("fsdp_sharding_strategy", "FULL_SHARD"),
            ("fsdp_state_dict_type", "FULL_STATE_DICT"),
            ("fsdp_sync_module_states", true),
            ("fsdp_use_orig_params", true),
        ])
        .Key("main_training_function", "main")
        .Key("rdzv_backend", "static")
        .Key("same_network", true)
        .Key("use_cpu", false)
        .ToString();

    /// <summary>
    /// The launch script: <paramref name="command"/> runs with <c>$NPROC</c> processes per node (default: every GPU
    /// <c>nvidia-smi</c> lists), <c>$NNODES</c> nodes, this node's <c>$NODE_RANK</c>, the rendezvous at
    /// <c>$MASTER_ADDR:$MASTER_PORT</c>; <paramref name="threads"/> sets OMP_NUM_THREADS (training.threads).
    /// </summary>
    public static string Script(string title, string usage, IEnumerable<string> command, int? threads) =>
        "#!/usr/bin/env bash\n"
        + $"# {title}\n"
        + $"# Usage: {usage}\n"
        + "set -euo pipefail\n"
        + "cd \"$(dirname \"$0\")/..\"\n"
        + "NPROC=\"${NPROC:-$(nvidia-smi -L | wc -l)}\"\n"
        + "NNODES=\"${NNODES:-1}\"\n"
        + "NODE_RANK=\"${NODE_RANK:-0}\"\n"
        + "MASTER_ADDR=\"${MASTER_ADDR:-127.0.0.1}\"\n"
        + "MASTER_PORT=\"${MASTER_PORT:-29500}\"\n"
        + (threads is { } t ? $"export OMP_NUM_THREADS=\"${{OMP_NUM_THREADS:-{t}}}\"\n" : "")
        + string.Join(" \\\n  ", command) + "\n";
}
