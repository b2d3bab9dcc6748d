namespace LoraRecipes.Recipes;

// The recipe's choice values. YAML spells them in snake/kebab case (causal-lm, skip_step); the C#
// name is the same words in PascalCase, which is how YamlNames maps one to the other.

/// <summary><c>task</c>: what the adapter is trained for.</summary>
public enum TaskType
{
    /// <summary><c>causal-lm</c>: next-token prediction.</summary>
    CausalLm,

    /// <summary><c>sequence-classification</c>: a label per text.</summary>
    SequenceClassification,
}

/// <summary><c>data.format</c>: the layout of each record.</summary>
public enum DataFormat
{
    /// <summary><c>alpaca</c>: instruction / input / output.</summary>
    Alpaca,

    /// <summary><c>messages</c>: a list of role/content messages.</summary>
    Messages,

    /// <summary><c>text</c>: raw text.</summary>
    Text,

    /// <summary><c>classification</c>: text / label.</summary>
    Classification,
}

/// <summary><c>data.prompt_template</c>: how a record becomes a prompt.</summary>
public enum PromptTemplate
{
    /// <summary><c>alpaca</c>.</summary>
    Alpaca,

    /// <summary><c>chatml</c>.</summary>
    ChatMl,

    /// <summary><c>llama3</c>.</summary>
    Llama3,

    /// <summary><c>plain</c>: the text as is.</summary>
    Plain,

    /// <summary><c>model</c>: the tokenizer_config chat_template.</summary>
    Model,
}

/// <summary><c>lora.init</c>: initialisation of A (B always starts at zero).</summary>
public enum LoraInit
{
    /// <summary><c>default</c>: kaiming-uniform(a=√5), as PEFT.</summary>
    Default,

    /// <summary><c>gaussian</c>: N(0, 1/r).</summary>
    Gaussian,

    /// <summary><c>pissa</c>: A, B from the top-r singular triplets of W; the base keeps the residual (PEFT's PiSSA).</summary>
    Pissa,

    /// <summary><c>olora</c>: A, B from the QR decomposition of W; the base keeps the residual (PEFT's OLoRA).</summary>
    Olora,
}

/// <summary><c>method</c>: the parameter-efficient method a recipe trains.</summary>
public enum AdapterMethod
{
    /// <summary><c>lora</c>: low-rank update B·A (with DoRA and PiSSA/OLoRA as <c>lora:</c> options).</summary>
    Lora,

    /// <summary><c>ia3</c>: learned scaling vectors (PEFT's IA3).</summary>
    Ia3,

    /// <summary><c>bottleneck_adapter</c>: Houlsby/Pfeiffer bottleneck modules with a residual (no PEFT type).</summary>
    BottleneckAdapter,

    /// <summary><c>freeze</c>: the last transformer blocks and the head train in full (LLaMA-Factory's freeze; no PEFT type).</summary>
    Freeze,

    /// <summary><c>prompt_tuning</c>: learned virtual-token embeddings before the input (PEFT's PROMPT_TUNING).</summary>
    PromptTuning,

    /// <summary><c>p_tuning</c>: virtual tokens produced by a trained MLP/LSTM prompt encoder (PEFT's P_TUNING).</summary>
    PTuning,

    /// <summary><c>prefix_tuning</c>: learned past keys and values in every attention layer (PEFT's PREFIX_TUNING).</summary>
    PrefixTuning,
}

/// <summary><c>prompt_tuning.init</c>: how the virtual tokens start (PEFT's <c>prompt_tuning_init</c>).</summary>
public enum PromptTuningInit
{
    /// <summary><c>random</c>: N(0, 1), as torch.nn.Embedding (PEFT's RANDOM).</summary>
    Random,

    /// <summary><c>text</c>: the word embeddings of <c>init_text</c>'s tokens, repeated or cut to n (PEFT's TEXT).</summary>
    Text,
}

/// <summary><c>p_tuning.encoder</c>: PEFT's <c>encoder_reparameterization_type</c>.</summary>
public enum PromptEncoderType
{
    /// <summary><c>mlp</c>: Linear–ReLU–Linear–ReLU–Linear.</summary>
    Mlp,

    /// <summary><c>lstm</c>: a bidirectional LSTM, then Linear–ReLU–Linear.</summary>
    Lstm,
}

/// <summary><c>bottleneck_adapter.non_linearity</c>: the activation between down- and up-projection.</summary>
public enum BottleneckActivation
{
    /// <summary><c>relu</c> (the adapters library's Pfeiffer default).</summary>
    Relu,

    /// <summary><c>gelu</c> (exact, erf form).</summary>
    Gelu,

    /// <summary><c>swish</c>: x·sigmoid(x) (SiLU).</summary>
    Swish,

    /// <summary><c>tanh</c>.</summary>
    Tanh,
}

/// <summary><c>bottleneck_adapter.placement</c>: which sub-layer outputs get an adapter.</summary>
public enum BottleneckPlacement
{
    /// <summary><c>ffn</c>: after the feed-forward output projection (Pfeiffer).</summary>
    Ffn,

    /// <summary><c>attention</c>: after the attention output projection.</summary>
    Attention,

    /// <summary><c>both</c>: after each (Houlsby).</summary>
    Both,
}

/// <summary><c>bottleneck_adapter.init</c>: how the two projections start.</summary>
public enum BottleneckInit
{
    /// <summary><c>default</c>: down kaiming-uniform, up zero, biases zero (the adapters library's mam_adapter init): step 0 is the base model.</summary>
    Default,

    /// <summary><c>bert</c>: both weights N(0, 0.02²), biases zero (the adapters library's bert init): step 0 is close to, not equal to, the base.</summary>
    Bert,
}

/// <summary><c>lora.bias</c>: which biases train.</summary>
public enum LoraBias
{
    /// <summary><c>none</c>.</summary>
    None,

    /// <summary><c>all</c>.</summary>
    All,

    /// <summary><c>lora_only</c>: biases of adapted modules only.</summary>
    LoraOnly,
}

/// <summary><c>training.scheduler</c>: learning-rate schedule after warm-up.</summary>
public enum LrScheduler
{
    /// <summary><c>linear</c> decay to zero.</summary>
    Linear,

    /// <summary><c>cosine</c> decay to zero.</summary>
    Cosine,

    /// <summary><c>constant</c>.</summary>
    Constant,
}

/// <summary><c>training.precision</c>.</summary>
public enum Precision
{
    /// <summary><c>auto</c>: bf16 where supported, else fp32.</summary>
    Auto,

    /// <summary><c>fp32</c>.</summary>
    Fp32,

    /// <summary><c>bf16</c>.</summary>
    Bf16,

    /// <summary><c>fp16</c>.</summary>
    Fp16,
}

/// <summary><c>training.on_nan</c>: what a NaN or infinite loss does.</summary>
public enum NanPolicy
{
    /// <summary><c>stop</c> the run with an error.</summary>
    Stop,

    /// <summary><c>skip_step</c>: drop the step's gradients and go on.</summary>
    SkipStep,
}

/// <summary><c>evaluation.every</c>: when validation runs.</summary>
public enum EvaluationSchedule
{
    /// <summary><c>epoch</c>: after every epoch.</summary>
    Epoch,

    /// <summary>A number: every <see cref="EvaluationOptions.EverySteps"/> optimizer steps.</summary>
    Steps,

    /// <summary><c>never</c>.</summary>
    Never,
}

/// <summary><c>evaluation.metrics</c> entries.</summary>
public enum EvaluationMetric
{
    /// <summary><c>loss</c>.</summary>
    Loss,

    /// <summary><c>perplexity</c>.</summary>
    Perplexity,

    /// <summary><c>accuracy</c> (classification).</summary>
    Accuracy,

    /// <summary><c>f1</c> (classification).</summary>
    F1,

    /// <summary><c>exact_match</c> (generation).</summary>
    ExactMatch,

    /// <summary><c>bleu</c> (generation).</summary>
    Bleu,

    /// <summary><c>rouge_l</c> (generation).</summary>
    RougeL,
}

/// <summary><c>evaluation.keep</c>: which weights the artifact holds.</summary>
public enum KeepWeights
{
    /// <summary><c>last</c>: the weights at the end of training.</summary>
    Last,

    /// <summary><c>best</c>: the weights of the evaluation with the best <c>evaluation.early_stopping.metric</c>.</summary>
    Best,
}
