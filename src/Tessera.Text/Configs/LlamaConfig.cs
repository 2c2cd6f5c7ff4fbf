using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Transformers;

/// <summary>
/// The <c>config.json</c> of a Llama-family decoder: <c>model_type</c> <c>llama</c> (Llama 2/3, SmolLM, TinyLlama),
/// <c>qwen2</c> (bias on q/k/v) or <c>mistral</c> (without sliding-window attention). Field names and defaults are
/// those of <c>transformers</c>' LlamaConfig / Qwen2Config / MistralConfig.
/// </summary>
public sealed record LlamaConfig : PretrainedConfig
{
    /// <summary>Creates a config with <c>model_type</c> <c>llama</c>.</summary>
    public LlamaConfig() => ModelType = "llama";

    /// <summary>Vocabulary size (<c>vocab_size</c>).</summary>
    [JsonPropertyName("vocab_size")]
    public required int VocabSize { get; init; }

    /// <summary>Hidden size (<c>hidden_size</c>).</summary>
    [JsonPropertyName("hidden_size")]
    public required int HiddenSize { get; init; }

    /// <summary>Width of the SwiGLU MLP (<c>intermediate_size</c>).</summary>
    [JsonPropertyName("intermediate_size")]
    public required int IntermediateSize { get; init; }

    /// <summary>Number of decoder layers (<c>num_hidden_layers</c>).</summary>
    [JsonPropertyName("num_hidden_layers")]
    public required int NumHiddenLayers { get; init; }

    /// <summary>Query heads (<c>num_attention_heads</c>).</summary>
    [JsonPropertyName("num_attention_heads")]
    public required int NumAttentionHeads { get; init; }

    /// <summary>Key/value heads for grouped-query attention (<c>num_key_value_heads</c>); null means one per query head.</summary>
    [JsonPropertyName("num_key_value_heads")]
    public int? NumKeyValueHeads { get; init; }

    /// <summary>Per-head width (<c>head_dim</c>); null means hidden_size / num_attention_heads.</summary>
    [JsonPropertyName("head_dim")]
    public int? HeadDimOverride { get; init; }

    /// <summary>MLP activation (<c>hidden_act</c>), <c>silu</c> for every model of the family.</summary>
    [JsonPropertyName("hidden_act")]
    public string HiddenAct { get; init; } = "silu";

    /// <summary>Context length the model was trained for (<c>max_position_embeddings</c>).</summary>
    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; init; } = 2048;

    /// <summary>Standard deviation of the normal initialisation (<c>initializer_range</c>).</summary>
    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>RMSNorm epsilon (<c>rms_norm_eps</c>).</summary>
    [JsonPropertyName("rms_norm_eps")]
    public double RmsNormEps { get; init; } = 1e-6;

    /// <summary>RoPE base (<c>rope_theta</c>).</summary>
    [JsonPropertyName("rope_theta")]
    public double RopeTheta { get; init; } = 10000.0;

    /// <summary>RoPE scaling (<c>rope_scaling</c>): null, or an object with <c>rope_type</c> (or <c>type</c>) <c>default</c>, <c>linear</c> or <c>llama3</c>.</summary>
    [JsonPropertyName("rope_scaling")]
    public JsonElement? RopeScaling { get; init; }

    /// <summary>
    /// RoPE settings as <c>transformers</c> 5 writes them (<c>rope_parameters</c>): one object with <c>rope_theta</c>,
    /// <c>rope_type</c> and that type's fields. When present it takes the place of <see cref="RopeTheta"/> and
    /// <see cref="RopeScaling"/> (see <see cref="EffectiveRopeTheta"/>, <see cref="EffectiveRopeScaling"/>).
    /// </summary>
    [JsonPropertyName("rope_parameters")]
    public JsonElement? RopeParameters { get; init; }

    /// <summary>The RoPE base in force: <c>rope_parameters.rope_theta</c> when given, else <see cref="RopeTheta"/>.</summary>
    [JsonIgnore]
    public double EffectiveRopeTheta =>
        RopeParameters is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty("rope_theta", out JsonElement t) && t.ValueKind == JsonValueKind.Number
            ? t.GetDouble()
            : RopeTheta;

    /// <summary>The RoPE scaling in force: <see cref="RopeParameters"/> when it is an object, else <see cref="RopeScaling"/>.</summary>
    [JsonIgnore]
    public JsonElement? EffectiveRopeScaling => RopeParameters is { ValueKind: JsonValueKind.Object } ? RopeParameters : RopeScaling;

    /// <summary>Bias on q/k/v/o projections (<c>attention_bias</c>, Llama); Qwen2 always has q/k/v bias.</summary>
    [JsonPropertyName("attention_bias")]
    public bool AttentionBias { get; init; }

    /// <summary>Dropout on attention probabilities (<c>attention_dropout</c>).</summary>
    [JsonPropertyName("attention_dropout")]
    public double AttentionDropout { get; init; }

    /// <summary>Bias on the MLP projections (<c>mlp_bias</c>).</summary>
    [JsonPropertyName("mlp_bias")]
    public bool MlpBias { get; init; }

    /// <summary>Sliding-window size (<c>sliding_window</c>, Mistral/Qwen2); sequences longer than it are refused.</summary>
    [JsonPropertyName("sliding_window")]
    public int? SlidingWindow { get; init; }

    /// <summary>Whether Qwen2 uses the sliding window (<c>use_sliding_window</c>).</summary>
    [JsonPropertyName("use_sliding_window")]
    public bool? UseSlidingWindow { get; init; }

    /// <summary>Whether <c>lm_head</c> shares the embedding's weight (<c>tie_word_embeddings</c>, default false for this family).</summary>
    [JsonPropertyName("tie_word_embeddings")]
    public bool TieWordEmbeddings { get; init; }

    /// <summary>Key/value heads actually used.</summary>
    [JsonIgnore]
    public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>Per-head width actually used.</summary>
    [JsonIgnore]
    public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;

    /// <summary>Whether q/k/v projections have a bias (Qwen2 always; Llama when <c>attention_bias</c>).</summary>
    [JsonIgnore]
    public bool QkvBias => ModelType == "qwen2" || AttentionBias;

    /// <summary>Whether o_proj has a bias (Llama's <c>attention_bias</c>; never for Qwen2).</summary>
    [JsonIgnore]
    public bool OutputBias => ModelType != "qwen2" && AttentionBias;

    /// <summary>The sliding window in force, or null when attention is global.</summary>
    [JsonIgnore]
    public int? EffectiveSlidingWindow => ModelType switch
    {
        "mistral" => SlidingWindow,
        "qwen2" => UseSlidingWindow == true ? SlidingWindow : null,
        _ => null,
    };

    /// <inheritdoc/>
    public override void Validate()
    {
        Require(ModelType is "llama" or "qwen2" or "mistral", "model_type", $"must be llama, qwen2 or mistral, got \"{ModelType}\"");
        Require(VocabSize > 0, "vocab_size", $"must be positive, got {VocabSize}");
        Require(HiddenSize > 0, "hidden_size", $"must be positive, got {HiddenSize}");
        Require(IntermediateSize > 0, "intermediate_size", $"must be positive, got {IntermediateSize}");
        Require(NumHiddenLayers >= 0, "num_hidden_layers", $"must not be negative, got {NumHiddenLayers}");
        Require(NumAttentionHeads > 0, "num_attention_heads", $"must be positive, got {NumAttentionHeads}");
        Require(HeadDimOverride is not null || HiddenSize % NumAttentionHeads == 0, "num_attention_heads", $"must divide hidden_size ({HiddenSize}) unless head_dim is given");
        Require(HeadDim > 0 && HeadDim % 2 == 0, "head_dim", $"must be positive and even for RoPE, got {HeadDim}");
        Require(KeyValueHeads > 0 && NumAttentionHeads % KeyValueHeads == 0, "num_key_value_heads", $"must be positive and divide num_attention_heads ({NumAttentionHeads}), got {KeyValueHeads}");
        Require(RmsNormEps > 0, "rms_norm_eps", $"must be positive, got {RmsNormEps}");
        Require(EffectiveRopeTheta > 0, "rope_theta", $"must be positive, got {EffectiveRopeTheta}");
        Require(ActivationNames.IsSupported(HiddenAct), "hidden_act", $"\"{HiddenAct}\" is not supported (supported: {string.Join(", ", ActivationNames.Supported)})");
        RotaryFrequencies.Validate(this);
    }
}
