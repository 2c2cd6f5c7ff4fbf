using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// BERT with its masked-LM head (<c>BertForMaskedLM</c>): the encoder under <c>bert.</c> (without pooler) and
/// <c>cls.predictions</c> = <c>transform.dense</c> → activation → <c>transform.LayerNorm</c> → decoder tied to
/// <c>bert.embeddings.word_embeddings</c> plus <c>cls.predictions.bias</c>.
/// </summary>
public sealed class BertForMaskedLM : PreTrainedModel
{
    [ComponentName(Name = "bert")] readonly BertModel bert;
    [ComponentName(Name = "cls")] readonly BertMaskedLMHead cls;

    /// <summary>Builds the model with freshly initialised weights.</summary>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public BertForMaskedLM(BertConfig config) : base(nameof(BertForMaskedLM))
    {
        bert = new BertModel(config, addPoolingLayer: false);
        cls = new BertMaskedLMHead(config);
        RegisterComponents();
    }

    /// <summary>Loads config.json and the safetensors weights of a model folder.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config or weights are invalid or do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static BertForMaskedLM FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        Build<BertForMaskedLM, BertConfig>(folder, options, c => new BertForMaskedLM(c));

    /// <summary>The configuration.</summary>
    public BertConfig Config => bert.Config;

    /// <inheritdoc/>
    public override PretrainedConfig PretrainedConfig => Config;

    /// <summary>The encoder.</summary>
    public BertModel Bert => bert;

    /// <inheritdoc/>
    public override string BaseModelPrefix => "bert";

    /// <summary>The tied decoder (<c>cls.predictions.decoder.*</c>), the next-sentence head, a pooler and old buffers are expected in checkpoints.</summary>
    public override bool IsIgnoredCheckpointKey(string key) =>
        key.StartsWith("cls.predictions.decoder.", StringComparison.Ordinal) || key.StartsWith("cls.seq_relationship.", StringComparison.Ordinal)
        || key.Contains("pooler.", StringComparison.Ordinal) || key.EndsWith("embeddings.position_ids", StringComparison.Ordinal);

    /// <summary>Token scores [batch, seq, vocab] for <paramref name="inputIds"/>; see <see cref="BertModel.forward"/>.</summary>
    public Tensor forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        EncoderOutput encoded = bert.forward(inputIds, attentionMask, tokenTypeIds);
        return cls.forward(encoded.LastHiddenState, bert.WordEmbeddings.weight!).MoveToOuterDisposeScope();
    }
}

/// <summary><c>cls</c>: holds <c>predictions</c>.</summary>
internal sealed class BertMaskedLMHead : nn.Module
{
    [ComponentName(Name = "predictions")] readonly BertPredictionHead predictions;

    public BertMaskedLMHead(BertConfig config) : base(nameof(BertMaskedLMHead))
    {
        predictions = new BertPredictionHead(config);
        RegisterComponents();
    }

    public Tensor forward(Tensor hidden, Tensor wordEmbeddings) => predictions.forward(hidden, wordEmbeddings);
}

/// <summary><c>cls.predictions</c>: transform (dense, activation, LayerNorm), then the tied decoder plus <c>bias</c>.</summary>
internal sealed class BertPredictionHead : nn.Module
{
    [ComponentName(Name = "transform")] readonly BertPredictionTransform transform;
    [ComponentName(Name = "bias")] readonly Parameter bias;

    public BertPredictionHead(BertConfig config) : base(nameof(BertPredictionHead))
    {
        transform = new BertPredictionTransform(config);
        bias = new Parameter(zeros(config.VocabSize));
        RegisterComponents();
    }

    public Tensor forward(Tensor hidden, Tensor wordEmbeddings) => nn.functional.linear(transform.forward(hidden), wordEmbeddings, bias);
}

/// <summary><c>LayerNorm(act(dense(x)))</c>.</summary>
internal sealed class BertPredictionTransform : nn.Module
{
    [ComponentName(Name = "dense")] readonly Linear dense;
    [ComponentName(Name = "LayerNorm")] readonly LayerNorm norm;
    readonly string activation;

    public BertPredictionTransform(BertConfig config) : base(nameof(BertPredictionTransform))
    {
        dense = BertModel.Linear(config.HiddenSize, config.HiddenSize, config.InitializerRange);
        norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public Tensor forward(Tensor x) => norm.call(Activations.Apply(activation, dense.call(x)));
}
