using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// BERT with a classification head (<c>BertForSequenceClassification</c>): the encoder under <c>bert.</c>, dropout on
/// the pooled output, and <c>classifier</c> [num_labels, hidden] (num_labels = size of <c>id2label</c>).
/// </summary>
public sealed class BertForSequenceClassification : PreTrainedModel
{
    [ComponentName(Name = "bert")] readonly BertModel bert;
    [ComponentName(Name = "dropout")] readonly Dropout dropout;
    [ComponentName(Name = "classifier")] readonly Linear classifier;

    /// <summary>Builds the model with freshly initialised weights.</summary>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public BertForSequenceClassification(BertConfig config) : base(nameof(BertForSequenceClassification))
    {
        bert = new BertModel(config, addPoolingLayer: true);
        dropout = nn.Dropout(config.ClassifierDropout ?? config.HiddenDropoutProb);
        classifier = BertModel.Linear(config.HiddenSize, config.NumLabels, config.InitializerRange);
        RegisterComponents();
    }

    /// <summary>
    /// Loads config.json and the safetensors weights of a model folder. To put a new head on a pretrained encoder, pass
    /// <see cref="FromPretrainedOptions.AllowMissingKeys"/> (the classifier then keeps its fresh initialisation).
    /// </summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config or weights are invalid or do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static BertForSequenceClassification FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        Build<BertForSequenceClassification, BertConfig>(folder, options, c => new BertForSequenceClassification(c));

    /// <summary>The configuration.</summary>
    public BertConfig Config => bert.Config;

    /// <inheritdoc/>
    public override PretrainedConfig PretrainedConfig => Config;

    /// <summary>The encoder.</summary>
    public BertModel Bert => bert;

    /// <inheritdoc/>
    public override string BaseModelPrefix => "bert";

    /// <summary>Pre-training heads (<c>cls.*</c>) and the old <c>position_ids</c> buffer are expected in checkpoints.</summary>
    public override bool IsIgnoredCheckpointKey(string key) =>
        key.StartsWith("cls.", StringComparison.Ordinal) || key.EndsWith("embeddings.position_ids", StringComparison.Ordinal);

    /// <summary>Class scores [batch, num_labels] for <paramref name="inputIds"/>; see <see cref="BertModel.forward"/>.</summary>
    public Tensor forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        EncoderOutput encoded = bert.forward(inputIds, attentionMask, tokenTypeIds);
        return classifier.call(dropout.call(encoded.PoolerOutput!)).MoveToOuterDisposeScope();
    }
}
