using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// The BERT encoder (<c>BertModel</c>): word + position + token-type embeddings with LayerNorm, post-norm encoder
/// layers and an optional pooler. Parameter names are those of the Hugging Face checkpoints:
/// <c>embeddings.{word,position,token_type}_embeddings</c>, <c>embeddings.LayerNorm</c>,
/// <c>encoder.layer.{i}.attention.self.{query,key,value}</c>, <c>encoder.layer.{i}.attention.output.{dense,LayerNorm}</c>,
/// <c>encoder.layer.{i}.intermediate.dense</c>, <c>encoder.layer.{i}.output.{dense,LayerNorm}</c>, <c>pooler.dense</c>.
/// </summary>
public sealed class BertModel : PreTrainedModel
{
    [ComponentName(Name = "embeddings")] readonly BertEmbeddings embeddings;
    [ComponentName(Name = "encoder")] readonly BertEncoder encoder;
    [ComponentName(Name = "pooler")] readonly BertPooler? pooler;

    /// <summary>Builds the encoder with <c>transformers</c>' initialisation (N(0, initializer_range) weights, zero biases, unit norms).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <param name="addPoolingLayer">Whether to include <c>pooler.dense</c> (false for the masked-LM model, as in <c>transformers</c>).</param>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public BertModel(BertConfig config, bool addPoolingLayer = true) : base(nameof(BertModel))
    {
        config.Validate();
        Config = config;
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config);
        pooler = addPoolingLayer ? new BertPooler(config) : null;
        RegisterComponents();
    }

    /// <summary>Loads config.json and the safetensors weights of a model folder (a BertModel checkpoint or one saved from a BERT head).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config or weights are invalid or do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static BertModel FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        Build<BertModel, BertConfig>(folder, options, c => new BertModel(c));

    /// <summary>The configuration.</summary>
    public BertConfig Config { get; }

    /// <inheritdoc/>
    public override PretrainedConfig PretrainedConfig => Config;

    /// <inheritdoc/>
    public override string BaseModelPrefix => "bert";

    /// <summary>The word embedding [vocab, hidden] (tied to the masked-LM decoder).</summary>
    public Embedding WordEmbeddings => embeddings.WordEmbeddings;

    /// <summary>Head weights (<c>cls.*</c>), a pooler this model lacks, and the old <c>position_ids</c> buffer are expected in checkpoints.</summary>
    public override bool IsIgnoredCheckpointKey(string key) =>
        key.StartsWith("cls.", StringComparison.Ordinal) || key.EndsWith("embeddings.position_ids", StringComparison.Ordinal)
        || key.StartsWith("classifier.", StringComparison.Ordinal) || (pooler is null && key.Contains("pooler.", StringComparison.Ordinal));

    /// <summary>Encodes <paramref name="inputIds"/> [batch, seq].</summary>
    /// <param name="inputIds">Token ids (int64).</param>
    /// <param name="attentionMask">1 for tokens, 0 for padding [batch, seq]; null means no padding.</param>
    /// <param name="tokenTypeIds">Segment ids [batch, seq]; zeros when null.</param>
    /// <exception cref="ArgumentException">The sequence is longer than max_position_embeddings.</exception>
    public EncoderOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        long length = inputIds.shape[1];
        if (length > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence of {length} tokens is longer than max_position_embeddings = {Config.MaxPositionEmbeddings}", nameof(inputIds));
        using var scope = NewDisposeScope();
        Tensor x = embeddings.forward(inputIds, tokenTypeIds);
        Tensor? mask = attentionMask is null ? null : AttentionMasks.Padding(attentionMask.to(x.device), x.dtype);
        x = encoder.forward(x, mask);
        Tensor? pooled = pooler?.forward(x);
        return new EncoderOutput(x.MoveToOuterDisposeScope(), pooled?.MoveToOuterDisposeScope());
    }

    /// <summary>A linear layer initialised as <c>transformers</c> does for BERT: weight ~ N(0, std²), bias zero.</summary>
    internal static Linear Linear(long inFeatures, long outFeatures, double std)
    {
        Linear layer = nn.Linear(inFeatures, outFeatures);
        using (no_grad())
        {
            nn.init.normal_(layer.weight!, 0, std);
            nn.init.zeros_(layer.bias!);
        }
        return layer;
    }
}

/// <summary>Word + position + token-type embeddings, then LayerNorm and dropout.</summary>
internal sealed class BertEmbeddings : nn.Module
{
    [ComponentName(Name = "word_embeddings")] readonly Embedding word;
    [ComponentName(Name = "position_embeddings")] readonly Embedding position;
    [ComponentName(Name = "token_type_embeddings")] readonly Embedding tokenType;
    [ComponentName(Name = "LayerNorm")] readonly LayerNorm norm;
    [ComponentName(Name = "dropout")] readonly Dropout dropout;

    public BertEmbeddings(BertConfig config) : base(nameof(BertEmbeddings))
    {
        word = nn.Embedding(config.VocabSize, config.HiddenSize, padding_idx: config.PadTokenId ?? 0);
        position = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        tokenType = nn.Embedding(config.TypeVocabSize, config.HiddenSize);
        using (no_grad())
        {
            foreach (Embedding e in new[] { word, position, tokenType }) nn.init.normal_(e.weight!, 0, config.InitializerRange);
            word.weight![config.PadTokenId ?? 0].zero_();
        }
        norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public Embedding WordEmbeddings => word;

    public Tensor forward(Tensor inputIds, Tensor? tokenTypeIds)
    {
        long length = inputIds.shape[1];
        Tensor positions = arange(length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        Tensor types = tokenTypeIds ?? zeros_like(inputIds);
        return dropout.call(norm.call(word.call(inputIds) + tokenType.call(types) + position.call(positions)));
    }
}

/// <summary>The stack <c>layer.{i}</c>.</summary>
internal sealed class BertEncoder : nn.Module
{
    [ComponentName(Name = "layer")] readonly ModuleList<BertLayer> layers;

    public BertEncoder(BertConfig config) : base(nameof(BertEncoder))
    {
        layers = new ModuleList<BertLayer>();
        for (int i = 0; i < config.NumHiddenLayers; i++) layers.Add(new BertLayer(config));
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? mask)
    {
        foreach (BertLayer layer in layers) x = layer.forward(x, mask);
        return x;
    }
}

/// <summary>Post-norm layer: <c>LN(x + attn(x))</c>, then <c>LN(h + dense(act(dense(h))))</c>.</summary>
internal sealed class BertLayer : nn.Module
{
    [ComponentName(Name = "attention")] readonly BertAttention attention;
    [ComponentName(Name = "intermediate")] readonly BertIntermediate intermediate;
    [ComponentName(Name = "output")] readonly BertResidualOutput output;

    public BertLayer(BertConfig config) : base(nameof(BertLayer))
    {
        attention = new BertAttention(config);
        intermediate = new BertIntermediate(config);
        output = new BertResidualOutput(config, config.IntermediateSize);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? mask)
    {
        Tensor h = attention.forward(x, mask);
        return output.forward(intermediate.forward(h), h);
    }
}

/// <summary><c>self</c> (the attention) and <c>output</c> (projection, residual, LayerNorm).</summary>
internal sealed class BertAttention : nn.Module
{
    [ComponentName(Name = "self")] readonly BertSelfAttention self;
    [ComponentName(Name = "output")] readonly BertResidualOutput output;

    public BertAttention(BertConfig config) : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(config);
        output = new BertResidualOutput(config, config.HiddenSize);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? mask) => output.forward(self.forward(x, mask), x);
}

/// <summary>Bidirectional multi-head attention with separate <c>query</c>, <c>key</c>, <c>value</c> projections.</summary>
internal sealed class BertSelfAttention : nn.Module
{
    [ComponentName(Name = "query")] readonly Linear query;
    [ComponentName(Name = "key")] readonly Linear key;
    [ComponentName(Name = "value")] readonly Linear value;
    [ComponentName(Name = "dropout")] readonly Dropout dropout;
    readonly int heads, headDim;

    public BertSelfAttention(BertConfig config) : base(nameof(BertSelfAttention))
    {
        query = BertModel.Linear(config.HiddenSize, config.HiddenSize, config.InitializerRange);
        key = BertModel.Linear(config.HiddenSize, config.HiddenSize, config.InitializerRange);
        value = BertModel.Linear(config.HiddenSize, config.HiddenSize, config.InitializerRange);
        dropout = nn.Dropout(config.AttentionProbsDropoutProb);
        heads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? mask)
    {
        long batch = x.shape[0], length = x.shape[1];
        Tensor q = query.call(x).view(batch, length, heads, headDim).transpose(1, 2);
        Tensor k = key.call(x).view(batch, length, heads, headDim).transpose(1, 2);
        Tensor v = value.call(x).view(batch, length, heads, headDim).transpose(1, 2);
        Tensor scores = matmul(q, k.transpose(-1, -2)) * (1.0 / Math.Sqrt(headDim));
        if (mask is not null) scores = scores + mask;
        Tensor probs = dropout.call(scores.softmax(-1));
        return matmul(probs, v).transpose(1, 2).reshape(batch, length, heads * headDim);
    }
}

/// <summary><c>LayerNorm(residual + dropout(dense(x)))</c>: BERT's attention.output and output modules.</summary>
internal sealed class BertResidualOutput : nn.Module
{
    [ComponentName(Name = "dense")] readonly Linear dense;
    [ComponentName(Name = "LayerNorm")] readonly LayerNorm norm;
    [ComponentName(Name = "dropout")] readonly Dropout dropout;

    public BertResidualOutput(BertConfig config, int inFeatures) : base(nameof(BertResidualOutput))
    {
        dense = BertModel.Linear(inFeatures, config.HiddenSize, config.InitializerRange);
        norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor residual) => norm.call(dropout.call(dense.call(x)) + residual);
}

/// <summary><c>act(dense(x))</c> into the intermediate width.</summary>
internal sealed class BertIntermediate : nn.Module
{
    [ComponentName(Name = "dense")] readonly Linear dense;
    readonly string activation;

    public BertIntermediate(BertConfig config) : base(nameof(BertIntermediate))
    {
        dense = BertModel.Linear(config.HiddenSize, config.IntermediateSize, config.InitializerRange);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public Tensor forward(Tensor x) => Activations.Apply(activation, dense.call(x));
}

/// <summary><c>tanh(dense(first token))</c>.</summary>
internal sealed class BertPooler : nn.Module
{
    [ComponentName(Name = "dense")] readonly Linear dense;

    public BertPooler(BertConfig config) : base(nameof(BertPooler))
    {
        dense = BertModel.Linear(config.HiddenSize, config.HiddenSize, config.InitializerRange);
        RegisterComponents();
    }

    public Tensor forward(Tensor x) => dense.call(x.select(1, 0)).tanh();
}
