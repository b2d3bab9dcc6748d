using V = LoraRecipes.Recipes.Schema.RecipeValueType;

namespace LoraRecipes.Recipes.Schema;

/// <summary>
/// Recipe schema v1 as data: every key, its type, default, allowed values and documentation.
/// Validation, did-you-mean and the resolved-YAML writer read this list; nothing else lists keys.
/// </summary>
public static class RecipeSchema
{
    /// <summary>The schema version this list describes.</summary>
    public const int Version = 1;

    /// <summary>Every key, sections before their children, in the order the resolved YAML is written.</summary>
    public static IReadOnlyList<RecipeSchemaEntry> Entries { get; } =
    [
        new("name", V.String, "Recipe name; names the adapter and its folder (artifacts/<name>, lora/<name> in a build output).") { Required = true, Pattern = AdapterNames.Pattern },
        new("base_model", V.String, "Base model: builtin:<name>, an HF folder relative to the recipe, or a hub id org/name[@revision].") { Required = true },
        new("task", V.Choice, "What the adapter is trained for.") { Default = "causal-lm", Allowed = ["causal-lm", "sequence-classification"] },
        new("method", V.Choice, "Parameter-efficient method: lora (low-rank update; DoRA and PiSSA/OLoRA are lora options) ia3 (learned scaling vectors, PEFT's IA3), bottleneck_adapter (Houlsby/Pfeiffer bottleneck modules with a residual; no PEFT type, not mergeable), freeze (the last transformer blocks and the head train in full, saved as a delta of those tensors; no PEFT type, mergeable), prompt_tuning (learned virtual tokens before the input, PEFT's PROMPT_TUNING), p_tuning (virtual tokens from a trained MLP/LSTM prompt encoder, PEFT's P_TUNING) or prefix_tuning (learned past keys and values in every attention layer, PEFT's PREFIX_TUNING); the prompt methods are not mergeable.") { Default = "lora", Allowed = ["lora", "ia3", "bottleneck_adapter", "freeze", "prompt_tuning", "p_tuning", "prefix_tuning"] },
        new("extends", V.String, "A base recipe (relative path) merged under this one; this recipe's values win, lists are replaced.") { Nullable = true },

        new("data", V.Section, "Training and validation data."),
        new("data.train", V.String, "Training data: a JSON array or JSONL file, relative to the recipe.") { Required = true },
        new("data.validation", V.String, "Validation data file; null to split it off the training data.") { Nullable = true },
        new("data.validation_split", V.Number, "Fraction of the training data held out for validation when data.validation is null; 0 disables validation.") { Default = 0.1, Minimum = 0, Maximum = 1, ExclusiveMaximum = true },
        new("data.format", V.Choice, "Record layout: alpaca (instruction/input/output), messages, text, classification (text/label).") { Default = "alpaca", Allowed = ["alpaca", "messages", "text", "classification"] },
        new("data.prompt_template", V.Choice, "Prompt template; model uses the tokenizer_config chat_template.") { Default = "alpaca", Allowed = ["alpaca", "chatml", "llama3", "plain", "model"] },
        new("data.max_length", V.Integer, "Longest tokenized example; longer ones are truncated.") { Default = 512L, Minimum = 8 },
        new("data.train_on_inputs", V.Boolean, "Compute the loss on prompt tokens too (false: on the response tokens only).") { Default = false },
        new("data.packing", V.Boolean, "Pack several short examples into one sequence.") { Default = false },

        new("lora", V.Section, "LoRA adapter shape."),
        new("lora.r", V.Integer, "Rank of the update B·A.") { Default = 4L, Minimum = 1 },
        new("lora.alpha", V.Number, "Scale numerator: the update is scaled by alpha / r (alpha / sqrt(r) with rsLoRA).") { Default = 32.0, Minimum = 0, ExclusiveMinimum = true },
        new("lora.dropout", V.Number, "Dropout on the LoRA input.") { Default = 0.01, Minimum = 0, Maximum = 1, ExclusiveMaximum = true },
        new("lora.target_modules", V.ModuleList, "Linear modules to adapt: names, suffixes, re:<regex>, or all-linear.") { Default = new[] { "q_proj", "v_proj" } },
        new("lora.init", V.Choice, "Initialisation (PEFT's init_lora_weights): default (A kaiming-uniform, B zero), gaussian (A ~ N(0, 1/r), B zero), pissa (A, B from the top-r SVD of W) or olora (from its QR); pissa and olora move that part out of the base weight, and the saved adapter is converted to a rank-2r LoRA of the unmodified base. pissa_niter_N: PiSSA by PEFT's fast randomized SVD with N subspace iterations (seeded by training.seed).") { Default = "default", Allowed = ["default", "gaussian", "pissa", "olora"], Pattern = "^pissa_niter_(0|[1-9][0-9]{0,3})$" },
        new("lora.use_dora", V.Boolean, "DoRA: a trained magnitude per output row times the row-normalised direction W + s·B·A (PEFT's use_dora).") { Default = false },
        new("lora.use_rslora", V.Boolean, "Rank-stabilised scaling alpha / sqrt(r).") { Default = false },
        new("lora.bias", V.Choice, "Which biases train: none (biases stay frozen; PEFT's all and lora_only are not implemented).") { Default = "none", Allowed = ["none"] },
        new("lora.modules_to_save", V.StringList, "Modules trained in full and saved with the adapter, e.g. [classifier].") { Default = Array.Empty<string>() },

        new("ia3", V.Section, "IA3 scaling vectors (method: ia3)."),
        new("ia3.target_modules", V.ModuleList, "Linear modules that get a learned scaling vector: names, suffixes, re:<regex>, or all-linear; null: PEFT's default for the model family (llama: k_proj, v_proj, down_proj; bert: key, value, output.dense).") { Nullable = true },
        new("ia3.feedforward_modules", V.ModuleList, "Targets whose input is scaled (the others' output is); a subset of ia3.target_modules; null: PEFT's default for the model family (llama: down_proj; bert: output.dense).") { Nullable = true },

        new("bottleneck_adapter", V.Section, "Bottleneck adapters (method: bottleneck_adapter): h + up(act(down(h))) after the chosen sub-layer outputs."),
        new("bottleneck_adapter.reduction_factor", V.Number, "Bottleneck width = hidden size / reduction_factor (rounded down, at least 1); ignored when bottleneck_size is set.") { Default = 16.0, Minimum = 1 },
        new("bottleneck_adapter.bottleneck_size", V.Integer, "The bottleneck width itself; null: hidden size / reduction_factor.") { Nullable = true, Minimum = 1 },
        new("bottleneck_adapter.non_linearity", V.Choice, "Activation between the down and up projections.") { Default = "relu", Allowed = ["relu", "gelu", "swish", "tanh"] },
        new("bottleneck_adapter.placement", V.Choice, "Where adapters go: ffn (after the feed-forward output projection; Pfeiffer), attention (after the attention output projection) or both (Houlsby).") { Default = "ffn", Allowed = ["ffn", "attention", "both"] },
        new("bottleneck_adapter.init", V.Choice, "default: down kaiming-uniform, up zero (step 0 is the base model); bert: both N(0, 0.02²). Biases start at zero.") { Default = "default", Allowed = ["default", "bert"] },
        new("bottleneck_adapter.dropout", V.Number, "Dropout on the adapter output before the residual sum.") { Default = 0.0, Minimum = 0, Maximum = 1, ExclusiveMaximum = true },

        new("freeze", V.Section, "Top-layer fine-tuning (method: freeze; LLaMA-Factory's finetuning_type: freeze): the last blocks and the head train in full, the rest is frozen."),
        new("freeze.trainable_layers", V.Integer, "How many of the last transformer blocks train from the first step (0: the head alone); at most the model's block count.") { Default = 2L, Minimum = 0 },
        new("freeze.modules", V.ModuleList, "Which sub-modules of a trainable block train: all, or names of the family's block sub-modules (llama: self_attn, mlp, input_layernorm, post_attention_layernorm, or q_proj…; bert: attention, intermediate, output; distilbert: attention, ffn, sa_layer_norm, output_layer_norm; gpt2: attn, mlp, ln_1, ln_2).") { Default = new[] { "all" }, Keyword = "all" },
        new("freeze.extra_modules", V.StringList, "Modules outside the blocks that train too (LLaMA-Factory's freeze_extra_modules), e.g. [embed_tokens, norm].") { Default = Array.Empty<string>() },
        new("freeze.train_head", V.Boolean, "The output head trains: lm_head for a causal LM (with tied embeddings, the embedding matrix), the pooler for a BERT classifier; a classifier's classification head always trains.") { Default = true },
        new("freeze.unfreeze_schedule", V.Section, "Layer-wise unfreezing: one more block, the next one down, becomes trainable at fixed intervals."),
        new("freeze.unfreeze_schedule.every", V.Integer, "One more block becomes trainable after every this many units (steps: before step k·every + 1; epochs: at the start of epoch k·every); null: no schedule.") { Nullable = true, Minimum = 1 },
        new("freeze.unfreeze_schedule.unit", V.Choice, "What every counts: optimizer steps or epochs.") { Default = "steps", Allowed = ["steps", "epochs"] },
        new("freeze.unfreeze_schedule.max_layers", V.Integer, "The schedule stops at this many trainable blocks; null: every block of the model.") { Nullable = true, Minimum = 1 },

        new("prompt_tuning", V.Section, "Prompt tuning (method: prompt_tuning): n learned virtual-token embeddings put before every input, PEFT's PROMPT_TUNING."),
        new("prompt_tuning.num_virtual_tokens", V.Integer, "n, the virtual tokens (they count against the model's positions).") { Default = 20L, Minimum = 1, Maximum = 4096 },
        new("prompt_tuning.init", V.Choice, "random: N(0, 1) (PEFT's RANDOM); text: the word embeddings of init_text's tokens, repeated or cut to n (PEFT's TEXT).") { Default = "random", Allowed = ["random", "text"] },
        new("prompt_tuning.init_text", V.String, "The text that starts the virtual tokens (init: text), e.g. \"Classify the sentiment of this review:\".") { Nullable = true },

        new("p_tuning", V.Section, "P-tuning (method: p_tuning): n virtual tokens produced by a prompt encoder that trains with them, PEFT's P_TUNING; saved as the encoder's output."),
        new("p_tuning.num_virtual_tokens", V.Integer, "n, the virtual tokens (they count against the model's positions).") { Default = 20L, Minimum = 1, Maximum = 4096 },
        new("p_tuning.encoder", V.Choice, "mlp: Linear-ReLU-Linear-ReLU-Linear; lstm: a bidirectional LSTM, then Linear-ReLU-Linear (PEFT's encoder_reparameterization_type).") { Default = "mlp", Allowed = ["mlp", "lstm"] },
        new("p_tuning.encoder_hidden_size", V.Integer, "The encoder's hidden width; null: the model's hidden size.") { Nullable = true, Minimum = 1 },
        new("p_tuning.encoder_num_layers", V.Integer, "LSTM layers (encoder: lstm; the MLP has PEFT's fixed three linear layers).") { Default = 2L, Minimum = 1, Maximum = 16 },
        new("p_tuning.encoder_dropout", V.Number, "Dropout between LSTM layers (encoder: lstm, 2 layers or more).") { Default = 0.0, Minimum = 0, Maximum = 1, ExclusiveMaximum = true },

        new("prefix_tuning", V.Section, "Prefix tuning (method: prefix_tuning): n learned key/value positions before every attention layer's own, PEFT's PREFIX_TUNING (P-tuning v2); saved as PEFT's prompt_embeddings (n, layers × 2 × token_dim)."),
        new("prefix_tuning.num_virtual_tokens", V.Integer, "n, the prefix positions (they count against the model's positions: the tokens start at n).") { Default = 20L, Minimum = 1, Maximum = 4096 },
        new("prefix_tuning.prefix_projection", V.Boolean, "Re-parameterise the prefix by a Linear-tanh-Linear MLP over an (n, token_dim) table (Li & Liang; PEFT's prefix_projection), saved already projected; false: train the (n, layers × 2 × token_dim) table directly.") { Default = false },
        new("prefix_tuning.encoder_hidden_size", V.Integer, "The projection's hidden width (prefix_projection: true); null: token_dim, the key/value heads × head width.") { Nullable = true, Minimum = 1 },

        new("training", V.Section, "Optimisation."),
        new("training.epochs", V.Integer, "Passes over the training data.") { Default = 3L, Minimum = 1 },
        new("training.max_steps", V.Integer, "Stop after this many optimizer steps; null: run all epochs.") { Nullable = true, Minimum = 1 },
        new("training.batch_size", V.Integer, "Examples per micro-batch.") { Default = 8L, Minimum = 1 },
        new("training.gradient_accumulation", V.Integer, "Micro-batches per optimizer step.") { Default = 1L, Minimum = 1 },
        new("training.learning_rate", V.Number, "Peak AdamW learning rate.") { Default = 2e-4, Minimum = 0, ExclusiveMinimum = true },
        new("training.weight_decay", V.Number, "AdamW weight decay.") { Default = 0.01, Minimum = 0 },
        new("training.scheduler", V.Choice, "Learning-rate schedule after warm-up.") { Default = "linear", Allowed = ["linear", "cosine", "constant"] },
        new("training.warmup_ratio", V.Number, "Fraction of the steps spent warming up.") { Default = 0.03, Minimum = 0, Maximum = 1, ExclusiveMaximum = true },
        new("training.max_grad_norm", V.Number, "Gradient clipping norm; null disables clipping.") { Default = 1.0, Nullable = true, Minimum = 0, ExclusiveMinimum = true },
        new("training.seed", V.Integer, "Seed for initialisation, shuffling and dropout.") { Default = 42L, Minimum = 0, Maximum = int.MaxValue },
        new("training.device", V.String, "auto, cpu, cuda or cuda:N.") { Default = "auto", Allowed = ["auto", "cpu", "cuda", "cuda:N"], Pattern = "^(auto|cpu|cuda|cuda:[0-9]+)$" },
        new("training.precision", V.Choice, "Compute precision; auto picks bf16 where supported.") { Default = "auto", Allowed = ["auto", "fp32", "bf16", "fp16"] },
        new("training.checkpoint_every", V.Integer, "Steps between resumable checkpoints.") { Default = 200L, Minimum = 1 },
        new("training.threads", V.Integer, "CPU threads; null: one per physical core.") { Nullable = true, Minimum = 1 },
        new("training.on_nan", V.Choice, "On a NaN/inf loss: stop the run, or skip_step (drop the step and go on).") { Default = "stop", Allowed = ["stop", "skip_step"] },

        new("evaluation", V.Section, "Validation during training."),
        new("evaluation.every", V.Schedule, "When to evaluate: epoch, a number of steps, or never.") { Default = "epoch", Allowed = ["epoch", "never", "<steps>"] },
        new("evaluation.metrics", V.ChoiceList, "Metrics computed on the validation data: loss, perplexity (causal-lm); loss, accuracy, f1 (sequence-classification); exact_match, bleu, rouge_l add greedy generation on up to 32 validation records (causal-lm, alpaca data).") { Default = new[] { "loss", "perplexity" }, Allowed = ["loss", "perplexity", "accuracy", "f1", "exact_match", "bleu", "rouge_l"] },
        new("evaluation.samples", V.StringList, "Prompts generated and logged after each evaluation.") { Default = Array.Empty<string>() },
        new("evaluation.keep", V.Choice, "Which weights the artifact holds: last (the end of training) or best (the evaluation with the best evaluation.early_stopping.metric; HF's load_best_model_at_end).") { Default = "last", Allowed = ["last", "best"] },
        new("evaluation.early_stopping", V.Section, "Stop training when a validation metric stops improving (HF's EarlyStoppingCallback)."),
        new("evaluation.early_stopping.metric", V.Choice, "The metric early stopping and keep: best judge by (HF's metric_for_best_model); loss and perplexity are better lower, the others higher. A generation metric must be listed in evaluation.metrics.") { Default = "loss", Allowed = ["loss", "perplexity", "accuracy", "f1", "exact_match", "bleu", "rouge_l"] },
        new("evaluation.early_stopping.patience", V.Integer, "Stop after this many evaluations in a row without improvement (HF's early_stopping_patience); null: never stop early.") { Nullable = true, Minimum = 1 },
        new("evaluation.early_stopping.min_delta", V.Number, "Smallest change of the metric that counts as an improvement (HF's early_stopping_threshold).") { Default = 0.0, Minimum = 0 },

        new("output", V.Section, "Where artifacts go."),
        new("output.dir", V.String, "Output folder, relative to the recipe.") { Default = AdapterNames.DefaultArtifactsDir },
    ];

    private static readonly Dictionary<string, RecipeSchemaEntry> ByPath =
        Entries.ToDictionary(e => e.Path, StringComparer.Ordinal);

    /// <summary>The entry for a dotted key path, or null.</summary>
    public static RecipeSchemaEntry? Find(string path) => ByPath.GetValueOrDefault(path);

    /// <summary>The keys directly inside a section ("" for the top level).</summary>
    public static IEnumerable<RecipeSchemaEntry> ChildrenOf(string section) =>
        Entries.Where(e => e.Parent == section);

    /// <summary>The entry at <paramref name="path"/>; throws for a path not in the schema (a programming error).</summary>
    internal static RecipeSchemaEntry Get(string path) =>
        ByPath.TryGetValue(path, out var entry) ? entry : throw new ArgumentException($"No schema key '{path}'.", nameof(path));
}
