namespace LoraRecipes.Recipes;

/// <summary><c>prompt_tuning:</c> — PEFT's PROMPT_TUNING (learned virtual-token embeddings), used when <c>method: prompt_tuning</c>.</summary>
public sealed record PromptTuningOptions
{
    /// <summary><c>num_virtual_tokens</c>: n, the virtual tokens put before every input.</summary>
    public int NumVirtualTokens { get; init; } = 20;

    /// <summary><c>init</c>: random (N(0, 1), PEFT's RANDOM) or text (the word embeddings of <see cref="InitText"/>, PEFT's TEXT).</summary>
    public PromptTuningInit Init { get; init; } = PromptTuningInit.Random;

    /// <summary><c>init_text</c>: the text whose token embeddings start the virtual tokens (repeated or cut to n); init: text only.</summary>
    public string? InitText { get; init; }
}

/// <summary><c>prefix_tuning:</c> — PEFT's PREFIX_TUNING (learned past keys and values in every attention layer), used when <c>method: prefix_tuning</c>.</summary>
public sealed record PrefixTuningOptions
{
    /// <summary><c>num_virtual_tokens</c>: n, the prefix positions every attention layer gets.</summary>
    public int NumVirtualTokens { get; init; } = 20;

    /// <summary><c>prefix_projection</c>: re-parameterise the prefix by a two-layer tanh MLP (PEFT's <c>prefix_projection</c>); false: train the table directly.</summary>
    public bool PrefixProjection { get; init; }

    /// <summary><c>encoder_hidden_size</c>: the projection's hidden width; null: PEFT's token_dim (key/value heads × head width).</summary>
    public int? EncoderHiddenSize { get; init; }
}

/// <summary><c>p_tuning:</c> — PEFT's P_TUNING (a prompt encoder re-parameterising the virtual tokens), used when <c>method: p_tuning</c>.</summary>
public sealed record PTuningOptions
{
    /// <summary><c>num_virtual_tokens</c>: n, the virtual tokens put before every input.</summary>
    public int NumVirtualTokens { get; init; } = 20;

    /// <summary><c>encoder</c>: mlp (PEFT's MLP, recommended) or lstm (a bidirectional LSTM, then a 2-layer MLP).</summary>
    public PromptEncoderType Encoder { get; init; } = PromptEncoderType.Mlp;

    /// <summary><c>encoder_hidden_size</c>: the encoder's hidden width; null: the model's hidden size (PEFT's default).</summary>
    public int? EncoderHiddenSize { get; init; }

    /// <summary><c>encoder_num_layers</c>: LSTM layers (the MLP always has PEFT's fixed three linear layers).</summary>
    public int EncoderNumLayers { get; init; } = 2;

    /// <summary><c>encoder_dropout</c>: dropout between LSTM layers.</summary>
    public double EncoderDropout { get; init; }
}
