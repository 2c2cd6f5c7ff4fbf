using System.Text.Json.Serialization;

namespace Tessera.Transformers;

/// <summary>The <c>config.json</c> of a BERT encoder (<c>model_type: bert</c>), with the field names and defaults of <c>transformers</c>' BertConfig.</summary>
public sealed record BertConfig : PretrainedConfig
{
    /// <summary>Creates a config with <c>model_type</c> <c>bert</c>.</summary>
    public BertConfig() => ModelType = "bert";

    /// <summary>Vocabulary size (<c>vocab_size</c>).</summary>
    [JsonPropertyName("vocab_size")]
    public required int VocabSize { get; init; }

    /// <summary>Hidden size (<c>hidden_size</c>).</summary>
    [JsonPropertyName("hidden_size")]
    public required int HiddenSize { get; init; }

    /// <summary>Number of encoder layers (<c>num_hidden_layers</c>).</summary>
    [JsonPropertyName("num_hidden_layers")]
    public required int NumHiddenLayers { get; init; }

    /// <summary>Attention heads (<c>num_attention_heads</c>).</summary>
    [JsonPropertyName("num_attention_heads")]
    public required int NumAttentionHeads { get; init; }

    /// <summary>Width of the feed-forward layer (<c>intermediate_size</c>).</summary>
    [JsonPropertyName("intermediate_size")]
    public required int IntermediateSize { get; init; }

    /// <summary>Activation (<c>hidden_act</c>), exact <c>gelu</c> by default.</summary>
    [JsonPropertyName("hidden_act")]
    public string HiddenAct { get; init; } = "gelu";

    /// <summary>Dropout on hidden states (<c>hidden_dropout_prob</c>).</summary>
    [JsonPropertyName("hidden_dropout_prob")]
    public double HiddenDropoutProb { get; init; } = 0.1;

    /// <summary>Dropout on attention probabilities (<c>attention_probs_dropout_prob</c>).</summary>
    [JsonPropertyName("attention_probs_dropout_prob")]
    public double AttentionProbsDropoutProb { get; init; } = 0.1;

    /// <summary>Rows of the position embedding (<c>max_position_embeddings</c>).</summary>
    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; init; } = 512;

    /// <summary>Rows of the token-type embedding (<c>type_vocab_size</c>).</summary>
    [JsonPropertyName("type_vocab_size")]
    public int TypeVocabSize { get; init; } = 2;

    /// <summary>Standard deviation of the normal initialisation (<c>initializer_range</c>).</summary>
    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>LayerNorm epsilon (<c>layer_norm_eps</c>).</summary>
    [JsonPropertyName("layer_norm_eps")]
    public double LayerNormEps { get; init; } = 1e-12;

    /// <summary>Position embedding kind (<c>position_embedding_type</c>); only <c>absolute</c> is supported.</summary>
    [JsonPropertyName("position_embedding_type")]
    public string PositionEmbeddingType { get; init; } = "absolute";

    /// <summary>Dropout before the classifier (<c>classifier_dropout</c>); null means <see cref="HiddenDropoutProb"/>.</summary>
    [JsonPropertyName("classifier_dropout")]
    public double? ClassifierDropout { get; init; }

    /// <summary>Number of labels of a classification head: the size of <c>id2label</c>, 2 by default (as in <c>transformers</c>).</summary>
    [JsonIgnore]
    public int NumLabels => Id2Label?.Count ?? 2;

    /// <summary>Per-head width.</summary>
    [JsonIgnore]
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Returns a copy whose <c>id2label</c>/<c>label2id</c> name <paramref name="numLabels"/> labels <c>LABEL_0</c>, ...</summary>
    public BertConfig WithNumLabels(int numLabels) => this with
    {
        Id2Label = Enumerable.Range(0, numLabels).ToDictionary(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture), i => $"LABEL_{i}"),
        Label2Id = Enumerable.Range(0, numLabels).ToDictionary(i => $"LABEL_{i}", i => i),
    };

    /// <inheritdoc/>
    public override void Validate()
    {
        Require(VocabSize > 0, "vocab_size", $"must be positive, got {VocabSize}");
        Require(HiddenSize > 0, "hidden_size", $"must be positive, got {HiddenSize}");
        Require(NumHiddenLayers >= 0, "num_hidden_layers", $"must not be negative, got {NumHiddenLayers}");
        Require(NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads == 0, "num_attention_heads", $"must be positive and divide hidden_size ({HiddenSize}), got {NumAttentionHeads}");
        Require(IntermediateSize > 0, "intermediate_size", $"must be positive, got {IntermediateSize}");
        Require(MaxPositionEmbeddings > 0, "max_position_embeddings", $"must be positive, got {MaxPositionEmbeddings}");
        Require(TypeVocabSize > 0, "type_vocab_size", $"must be positive, got {TypeVocabSize}");
        Require(PositionEmbeddingType == "absolute", "position_embedding_type", $"only \"absolute\" is supported, got \"{PositionEmbeddingType}\"");
        Require(ActivationNames.IsSupported(HiddenAct), "hidden_act", $"\"{HiddenAct}\" is not supported (supported: {string.Join(", ", ActivationNames.Supported)})");
        Require(NumLabels > 0, "id2label", "must name at least one label");
    }
}
