using System.Globalization;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Schema;

namespace LoraRecipes.Export;

/// <summary>
/// Every recipe key and where it goes in each engine: the table the exporters check before writing anything, the
/// mapping table of docs/distributed-training.md, and what the test walking <see cref="RecipeSchema"/> checks (every
/// key is here; every value an engine cannot express is refused by name).
/// </summary>
public static class ExportMappings
{
    private static string? MutatesBase(Recipe r) => r.Lora.Init is LoraInit.Pissa or LoraInit.Olora
        ? "PiSSA/OLoRA change the base weights and need the conversion on save that LoraRecipes does; train this recipe here."
        : null;

    /// <summary>One entry per non-section schema key, in schema order.</summary>
    public static IReadOnlyList<KeyMapping> All { get; } =
    [
        new("name", "dataset file names, `output_dir: ./output`", "`dataset: <name>_train`, `run_name`"),
        new("base_model", "`base_model` (+ `revision_of_model`)", "`model_name_or_path` (+ `model_revision`)",
            "builtin:<name> models are written into the export's base_model/ folder; a local folder is referenced by its absolute path."),
        new KeyMapping("task", "(causal LM)", "`stage: sft`") { Refused = "sequence-classification (both)" }.RefuseBoth(r => r.Task == TaskType.SequenceClassification
            ? "the engine trains causal language models only (no *ForSequenceClassification head, no classification loss); train this recipe here."
            : null),
        new KeyMapping("method", "(lora: the default)", "(lora: the default)") { Refused = "ia3, bottleneck_adapter, freeze, prompt_tuning, p_tuning, prefix_tuning (both)" }.RefuseBoth(r => r.Method switch
        {
            AdapterMethod.Ia3 => "the export writes LoRA settings only; train IA3 recipes here (PEFT's IA3 adapter loads in Python unchanged).",
            AdapterMethod.BottleneckAdapter => "the export writes LoRA settings only and neither engine has bottleneck adapters; train this recipe here.",
            AdapterMethod.Freeze => "the export writes LoRA settings only (LLaMA-Factory's finetuning_type: freeze has no layer-wise unfreezing and saves whole checkpoints); train this recipe here.",
            AdapterMethod.PromptTuning or AdapterMethod.PTuning or AdapterMethod.PrefixTuning => "the export writes LoRA settings only; train prompt-learning recipes here (PEFT's PROMPT_TUNING / P_TUNING / PREFIX_TUNING adapter loads in Python unchanged).",
            _ => null,
        }),
        new("extends", "(merged before export)", "(merged before export)", "The export is written from the merged recipe."),
        new("data.train", "`datasets: [{path: data/train.jsonl}]`", "`dataset_info.json` entry `<name>_train`",
            "Records are rendered here (template, BOS/EOS) and written in file order."),
        new("data.validation", "`test_datasets: [{path: data/validation.jsonl}]`", "`eval_dataset: <name>_validation`"),
        new("data.validation_split", "(split written here; `val_set_size: 0`)", "(split written here; no val_size)",
            "The split is computed by LoraRecipes' own DatasetSplit with the recipe's seed, so both engines see the very records `dotnet lora run` holds out."),
        new KeyMapping("data.format", "`type: input_output` (segments with labels)", "`formatting: sharegpt` with `template: empty`",
            "Records are rendered to text here; the engine only tokenizes the segments.") { Refused = "classification (both)" }.RefuseBoth(r => r.Data.Format == DataFormat.Classification
            ? "classification records (text/label) train a sequence-classification head, which the engine does not have."
            : null),
        new("data.prompt_template", "(rendered into the segments)", "(rendered into the turns; `template: empty`)",
            "Rendering here keeps our exact template text; prompt_template: model resolves through the tokenizer's chat_template as training does."),
        new("data.max_length", "`sequence_len` + `excess_length_strategy: truncate`", "`cutoff_len`",
            "LLaMA-Factory shares the budget between prompt and response when it truncates; we and axolotl cut the end."),
        new("data.train_on_inputs", "`train_on_inputs` (segment labels)", "`train_on_prompt`"),
        new("data.packing", "`sample_packing` (block-diagonal attention)", "`packing` + `neat_packing` (no cross-attention)",
            "Packed rows attend within each sample in all three; the packing order differs."),
        new("lora.r", "`lora_r`", "`lora_rank`"),
        new KeyMapping("lora.alpha", "`lora_alpha`", "`lora_alpha`") { Refused = "non-integer values (both)" }.RefuseBoth(r => r.Lora.Alpha != Math.Floor(r.Lora.Alpha)
            ? "lora_alpha is an integer there; use a whole number."
            : null),
        new("lora.dropout", "`lora_dropout`", "`lora_dropout`"),
        new KeyMapping("lora.target_modules", "`lora_target_modules` | `lora_target_linear: true`", "`lora_target` (comma list | `all`)",
            "all-linear excludes the output head in PEFT, axolotl and LLaMA-Factory alike.") { Refused = "re: patterns (both)" }.RefuseBoth(r => r.Lora.TargetModules.Any(t => t.StartsWith("re:", StringComparison.Ordinal))
            ? "re: patterns are matched by .NET regular expressions here; list the module names instead."
            : null),
        new KeyMapping("lora.init", "`peft_init_lora_weights: gaussian`", "(PEFT default only)")
        {
            Refused = "gaussian (LLaMA-Factory); pissa, olora (both)",
            RefuseAxolotl = r => MutatesBase(r),
            RefuseLlamaFactory = r => MutatesBase(r) ?? (r.Lora.Init == LoraInit.Gaussian ? "only PEFT's default (kaiming) init or PiSSA; use init: default." : null),
        },
        new KeyMapping("lora.use_dora", "(false: the default)", "(false: the default)") { Refused = "true (both)" }.RefuseBoth(r => r.Lora.UseDora
            ? "DoRA is not written into the export; train this recipe here (the DoRA adapter loads in PEFT unchanged)."
            : null),
        new("lora.use_rslora", "`peft_use_rslora`", "`use_rslora`"),
        // Recipes accept bias: none only, and modules_to_save only for sequence classification (which no engine export
        // takes), so both always export as the engines' defaults.
        new("lora.bias", "(none: the default)", "(none: the default)"),
        new("lora.modules_to_save", "(empty: the default)", "(empty: the default)"),
        new("ia3.target_modules", "(method: ia3 is refused)", "(method: ia3 is refused)"),
        new("ia3.feedforward_modules", "(method: ia3 is refused)", "(method: ia3 is refused)"),
        new("bottleneck_adapter.reduction_factor", "(method: bottleneck_adapter is refused)", "(method: bottleneck_adapter is refused)"),
        new("bottleneck_adapter.bottleneck_size", "(method: bottleneck_adapter is refused)", "(method: bottleneck_adapter is refused)"),
        new("bottleneck_adapter.non_linearity", "(method: bottleneck_adapter is refused)", "(method: bottleneck_adapter is refused)"),
        new("bottleneck_adapter.placement", "(method: bottleneck_adapter is refused)", "(method: bottleneck_adapter is refused)"),
        new("bottleneck_adapter.init", "(method: bottleneck_adapter is refused)", "(method: bottleneck_adapter is refused)"),
        new("bottleneck_adapter.dropout", "(method: bottleneck_adapter is refused)", "(method: bottleneck_adapter is refused)"),
        new("freeze.trainable_layers", "(method: freeze is refused)", "(method: freeze is refused)"),
        new("freeze.modules", "(method: freeze is refused)", "(method: freeze is refused)"),
        new("freeze.extra_modules", "(method: freeze is refused)", "(method: freeze is refused)"),
        new("freeze.train_head", "(method: freeze is refused)", "(method: freeze is refused)"),
        new("freeze.unfreeze_schedule.every", "(method: freeze is refused)", "(method: freeze is refused)"),
        new("freeze.unfreeze_schedule.unit", "(method: freeze is refused)", "(method: freeze is refused)"),
        new("freeze.unfreeze_schedule.max_layers", "(method: freeze is refused)", "(method: freeze is refused)"),
        new("prompt_tuning.num_virtual_tokens", "(method: prompt_tuning is refused)", "(method: prompt_tuning is refused)"),
        new("prompt_tuning.init", "(method: prompt_tuning is refused)", "(method: prompt_tuning is refused)"),
        new("prompt_tuning.init_text", "(method: prompt_tuning is refused)", "(method: prompt_tuning is refused)"),
        new("p_tuning.num_virtual_tokens", "(method: p_tuning is refused)", "(method: p_tuning is refused)"),
        new("p_tuning.encoder", "(method: p_tuning is refused)", "(method: p_tuning is refused)"),
        new("p_tuning.encoder_hidden_size", "(method: p_tuning is refused)", "(method: p_tuning is refused)"),
        new("p_tuning.encoder_num_layers", "(method: p_tuning is refused)", "(method: p_tuning is refused)"),
        new("p_tuning.encoder_dropout", "(method: p_tuning is refused)", "(method: p_tuning is refused)"),
        new("prefix_tuning.num_virtual_tokens", "(method: prefix_tuning is refused)", "(method: prefix_tuning is refused)"),
        new("prefix_tuning.prefix_projection", "(method: prefix_tuning is refused)", "(method: prefix_tuning is refused)"),
        new("prefix_tuning.encoder_hidden_size", "(method: prefix_tuning is refused)", "(method: prefix_tuning is refused)"),
        new("training.epochs", "`num_epochs`", "`num_train_epochs`"),
        new("training.max_steps", "`max_steps`", "`max_steps`"),
        new("training.batch_size", "`micro_batch_size`", "`per_device_train_batch_size`",
            "Per GPU: the effective batch is batch_size × gradient_accumulation × number of GPUs."),
        new("training.gradient_accumulation", "`gradient_accumulation_steps`", "`gradient_accumulation_steps`",
            "All three weight the loss by token over the accumulation window (HF Trainer's num_items_in_batch), not by micro-batch."),
        new("training.learning_rate", "`learning_rate` (`optimizer: adamw_torch`)", "`learning_rate` (`optim: adamw_torch`)"),
        new("training.weight_decay", "`weight_decay`", "`weight_decay`"),
        new("training.scheduler", "`lr_scheduler`", "`lr_scheduler_type`", "constant maps to HF's constant_with_warmup."),
        new("training.warmup_ratio", "`warmup_ratio`", "`warmup_ratio`"),
        new("training.max_grad_norm", "`max_grad_norm`", "`max_grad_norm`", "null (no clipping) is written as 0."),
        new("training.seed", "`seed`", "`seed`", "Same seed, different generators: the adapter's initial A and the shuffle order differ from ours."),
        new KeyMapping("training.device", "launch scripts (all visible GPUs)", "launch scripts (all visible GPUs)") { Refused = "cpu, cuda:N (both)" }.RefuseBoth(r => r.Training.Device switch
        {
            "cpu" => "the distributed launchers train on GPUs; use device: auto.",
            var d when d.StartsWith("cuda:", StringComparison.Ordinal) => "a single device index has no meaning for a data-parallel run; use device: cuda or auto (the launcher picks the GPUs).",
            _ => null,
        }),
        new("training.precision", "`bf16` | `fp16`", "`bf16` | `fp16`", "auto is bf16 on the cluster (axolotl: bf16: auto)."),
        new("training.checkpoint_every", "`save_steps`", "`save_steps`"),
        new("training.threads", "`OMP_NUM_THREADS` in the launch scripts", "`OMP_NUM_THREADS` in the launch scripts"),
        new KeyMapping("training.on_nan", "(HF Trainer)", "(HF Trainer)", "stop: HF Trainer logs a NaN loss and goes on; watch the logs.") { Refused = "skip_step (both)" }
            .RefuseBoth(r => r.Training.OnNan == NanPolicy.SkipStep ? "HF Trainer has no skip-the-step-on-NaN policy; use on_nan: stop." : null),
        new("evaluation.every", "`evals_per_epoch: 1` | `eval_steps`", "`eval_strategy: epoch` | `eval_strategy: steps` + `eval_steps`"),
        new KeyMapping("evaluation.metrics", "eval loss (perplexity = exp(loss))", "eval loss (perplexity = exp(loss))") { Refused = "accuracy, f1, exact_match, bleu, rouge_l (both)" }.RefuseBoth(r =>
            r.Evaluation.Metrics.Where(m => m is not (EvaluationMetric.Loss or EvaluationMetric.Perplexity)).Select(m => Yaml(m)).ToList() is { Count: > 0 } other
                ? $"only loss and perplexity are computed during its training evaluation; remove {string.Join(", ", other)} or evaluate the imported adapter with `dotnet lora eval`."
                : null),
        new("evaluation.samples", "`samples.txt` (generated after import)", "`samples.txt` (generated after import)",
            "The engines generate no samples during training; the README runs them with `dotnet lora generate` on the imported adapter."),
        new KeyMapping("evaluation.keep", "last (the engine's final weights)", "last (the engine's final weights)") { Refused = "best (both)" }
            .RefuseBoth(r => r.Evaluation.Keep == KeepWeights.Best ? "the export does not set up HF's load_best_model_at_end; use keep: last, or train with dotnet lora run." : null),
        new("evaluation.early_stopping.metric", "—", "—", "Judges evaluations for early stopping and keep: best, which the export refuses."),
        new KeyMapping("evaluation.early_stopping.patience", "—", "—") { Refused = "any value (both)" }
            .RefuseBoth(r => r.Evaluation.EarlyStopping.Enabled ? "the export does not set up HF's EarlyStoppingCallback; remove evaluation.early_stopping.patience, or train with dotnet lora run." : null),
        new("evaluation.early_stopping.min_delta", "—", "—", "Only with early stopping, which the export refuses."),
        new("output.dir", "import destination (`dotnet lora import-adapter`)", "import destination (`dotnet lora import-adapter`)",
            "The engine writes ./output in the export folder; import-adapter copies it to output.dir."),
    ];

    /// <summary>The mapping as a Markdown table (recipe key → axolotl → LLaMA-Factory → semantics and refusals), as docs/distributed-training.md shows it.</summary>
    public static string MarkdownTable()
    {
        var text = new System.Text.StringBuilder("| recipe key | axolotl | LLaMA-Factory | notes |\n| --- | --- | --- | --- |\n");
        foreach (var m in All)
            text.Append($"| `{m.RecipeKey}` | {Cell(m.Axolotl)} | {Cell(m.LlamaFactory)} | {Cell(string.Join(" ", new[] { m.Note, m.Refused is null ? null : "**Refused:** " + m.Refused + "." }.Where(t => t is not null)))} |\n");
        return text.ToString();
    }

    private static string Cell(string text) => text.Replace("|", "\\|");

    /// <summary>Every value of <paramref name="recipe"/> that <paramref name="engine"/> cannot express, in schema order.</summary>
    public static IReadOnlyList<ExportRefusal> Refusals(Recipe recipe, ExportEngine engine) =>
        All.Select(m => (m, Reason: m.Refusal(recipe, engine)))
            .Where(x => x.Reason is not null)
            .Select(x => new ExportRefusal(x.m.RecipeKey, ValueOf(recipe, x.m.RecipeKey), ExportNames.Display(engine), x.Reason!))
            .ToList();

    /// <summary>The recipe's value at <paramref name="key"/>, as the resolved YAML writes it.</summary>
    public static string ValueOf(Recipe recipe, string key) => Format(RecipeValues.Of(recipe, key));

    private static string Format(object? value) => value switch
    {
        null => "null",
        string s => s,
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Format)) + "]",
        _ => value.ToString() ?? "",
    };

    private static string Yaml(EvaluationMetric metric) =>
        YamlNames.ToYaml(metric, RecipeSchema.Find("evaluation.metrics")!.Allowed);
}
