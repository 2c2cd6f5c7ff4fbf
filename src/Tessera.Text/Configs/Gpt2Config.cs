using System.Text.Json.Serialization;

namespace Tessera.Transformers;

/// <summary>The <c>config.json</c> of a GPT-2 model (<c>model_type: gpt2</c>), with the field names and defaults of <c>transformers</c>' GPT2Config.</summary>
public sealed record Gpt2Config : PretrainedConfig
{
    /// <summary>Creates a config with <c>model_type</c> <c>gpt2</c>.</summary>
    public Gpt2Config() => ModelType = "gpt2";

    /// <summary>Vocabulary size (<c>vocab_size</c>).</summary>
    [JsonPropertyName("vocab_size")]
    public required int VocabSize { get; init; }

    /// <summary>Longest sequence, the rows of <c>wpe</c> (<c>n_positions</c>).</summary>
    [JsonPropertyName("n_positions")]
    public required int NPositions { get; init; }

    /// <summary>Hidden size (<c>n_embd</c>).</summary>
    [JsonPropertyName("n_embd")]
    public required int NEmbd { get; init; }

    /// <summary>Number of transformer blocks (<c>n_layer</c>).</summary>
    [JsonPropertyName("n_layer")]
    public required int NLayer { get; init; }

    /// <summary>Attention heads per block (<c>n_head</c>).</summary>
    [JsonPropertyName("n_head")]
    public required int NHead { get; init; }

    /// <summary>Width of the MLP (<c>n_inner</c>); null means 4 × <see cref="NEmbd"/>.</summary>
    [JsonPropertyName("n_inner")]
    public int? NInner { get; init; }

    /// <summary>MLP activation (<c>activation_function</c>): <c>gelu_new</c> (default), <c>gelu</c>, <c>relu</c>, <c>silu</c>, ...</summary>
    [JsonPropertyName("activation_function")]
    public string ActivationFunction { get; init; } = "gelu_new";

    /// <summary>Dropout after the residual branches (<c>resid_pdrop</c>).</summary>
    [JsonPropertyName("resid_pdrop")]
    public double ResidPdrop { get; init; } = 0.1;

    /// <summary>Dropout after the embeddings (<c>embd_pdrop</c>).</summary>
    [JsonPropertyName("embd_pdrop")]
    public double EmbdPdrop { get; init; } = 0.1;

    /// <summary>Dropout on the attention probabilities (<c>attn_pdrop</c>).</summary>
    [JsonPropertyName("attn_pdrop")]
    public double AttnPdrop { get; init; } = 0.1;

    /// <summary>LayerNorm epsilon (<c>layer_norm_epsilon</c>).</summary>
    [JsonPropertyName("layer_norm_epsilon")]
    public double LayerNormEpsilon { get; init; } = 1e-5;

    /// <summary>Standard deviation of the normal initialisation (<c>initializer_range</c>).</summary>
    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>Whether attention scores are divided by sqrt(head_dim) (<c>scale_attn_weights</c>).</summary>
    [JsonPropertyName("scale_attn_weights")]
    public bool ScaleAttnWeights { get; init; } = true;

    /// <summary>Whether scores of block i are also divided by i + 1 (<c>scale_attn_by_inverse_layer_idx</c>).</summary>
    [JsonPropertyName("scale_attn_by_inverse_layer_idx")]
    public bool ScaleAttnByInverseLayerIdx { get; init; }

    /// <summary>GPT-2 always ties <c>lm_head</c> to <c>wte</c>.</summary>
    [JsonPropertyName("tie_word_embeddings")]
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>Per-head width: <see cref="NEmbd"/> / <see cref="NHead"/>.</summary>
    [JsonIgnore]
    public int HeadDim => NEmbd / NHead;

    /// <summary>The MLP width actually used: <see cref="NInner"/> or 4 × <see cref="NEmbd"/>.</summary>
    [JsonIgnore]
    public int InnerSize => NInner ?? 4 * NEmbd;

    /// <inheritdoc/>
    public override void Validate()
    {
        Require(VocabSize > 0, "vocab_size", $"must be positive, got {VocabSize}");
        Require(NPositions > 0, "n_positions", $"must be positive, got {NPositions}");
        Require(NEmbd > 0, "n_embd", $"must be positive, got {NEmbd}");
        Require(NLayer >= 0, "n_layer", $"must not be negative, got {NLayer}");
        Require(NHead > 0 && NEmbd % NHead == 0, "n_head", $"must be positive and divide n_embd ({NEmbd}), got {NHead}");
        Require(InnerSize > 0, "n_inner", $"must be positive, got {InnerSize}");
        Require(ActivationNames.IsSupported(ActivationFunction), "activation_function", $"\"{ActivationFunction}\" is not supported (supported: {string.Join(", ", ActivationNames.Supported)})");
        Require(TieWordEmbeddings, "tie_word_embeddings", "GPT-2 ties lm_head to wte; false is not supported");
    }
}
