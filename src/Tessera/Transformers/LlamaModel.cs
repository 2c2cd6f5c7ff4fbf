using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// The Llama-family decoder body (<c>LlamaModel</c>, also Qwen2 and Mistral): token embedding, pre-norm layers with
/// RMSNorm, rotary attention with grouped-query heads and a SwiGLU MLP, and a final RMSNorm. Parameter names are
/// those of the Hugging Face checkpoints: <c>embed_tokens</c>, <c>layers.{i}.input_layernorm</c>,
/// <c>layers.{i}.self_attn.{q,k,v,o}_proj</c>, <c>layers.{i}.post_attention_layernorm</c>,
/// <c>layers.{i}.mlp.{gate,up,down}_proj</c>, <c>norm</c>.
/// </summary>
public sealed class LlamaModel : PreTrainedModel
{
    [ComponentName(Name = "embed_tokens")] readonly Embedding embedTokens;
    [ComponentName(Name = "layers")] readonly ModuleList<LlamaDecoderLayer> layers;
    [ComponentName(Name = "norm")] readonly RmsNorm norm;
    readonly RotaryEmbedding rotary;

    /// <summary>Builds the model with <c>transformers</c>' initialisation: N(0, initializer_range) weights, zero biases, unit norms.</summary>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public LlamaModel(LlamaConfig config) : base(nameof(LlamaModel))
    {
        config.Validate();
        Config = config;
        embedTokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        using (no_grad()) nn.init.normal_(embedTokens.weight!, 0, config.InitializerRange);
        layers = new ModuleList<LlamaDecoderLayer>();
        for (int i = 0; i < config.NumHiddenLayers; i++) layers.Add(new LlamaDecoderLayer(config, i));
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        rotary = new RotaryEmbedding(config);
        RegisterComponents();
    }

    /// <summary>The configuration.</summary>
    public LlamaConfig Config { get; }

    /// <inheritdoc/>
    public override PretrainedConfig PretrainedConfig => Config;

    /// <inheritdoc/>
    public override string BaseModelPrefix => "model";

    /// <summary>The token embedding <c>embed_tokens</c> [vocab, hidden] (the output projection too when <c>tie_word_embeddings</c>).</summary>
    public Embedding EmbedTokens => embedTokens;

    /// <summary>Causal-LM checkpoints carry <c>lm_head.weight</c>; rotary <c>inv_freq</c> buffers appear in old ones.</summary>
    public override bool IsIgnoredCheckpointKey(string key) =>
        key == "lm_head.weight" || key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    /// <summary>Runs the decoder on <paramref name="inputIds"/> [batch, new_tokens]; see <see cref="CausalLanguageModel.forward"/> for the mask and cache.</summary>
    /// <exception cref="ArgumentException">More than max_position_embeddings positions, or a mask of the wrong length.</exception>
    public DecoderOutput forward(Tensor inputIds, Tensor? attentionMask = null, KeyValueCache? pastKeyValues = null, bool useCache = true)
    {
        if (!useCache && pastKeyValues is not null) throw new ArgumentException("pastKeyValues was given with useCache false", nameof(pastKeyValues));
        long past = pastKeyValues?.SequenceLength ?? 0, length = inputIds.shape[1];
        if (past + length > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence of {past + length} positions ({past} cached + {length} new) is longer than max_position_embeddings = {Config.MaxPositionEmbeddings}", nameof(inputIds));
        KeyValueCache? cache = useCache ? pastKeyValues ?? new KeyValueCache(Config.NumHiddenLayers) : null;

        using var scope = NewDisposeScope();
        Device device = inputIds.device;
        Tensor x = embedTokens.call(inputIds);
        Tensor positions = AttentionMasks.PositionIds(attentionMask, past, length, device);
        var (cos, sin) = rotary.CosSin(positions);
        Tensor mask = AttentionMasks.Causal(attentionMask, past, length, x.dtype, device, Config.EffectiveSlidingWindow);
        for (int i = 0; i < layers.Count; i++) x = layers[i].forward(x, mask, cos, sin, cache);
        x = norm.call(x);
        return new DecoderOutput(x.MoveToOuterDisposeScope(), cache);
    }
}

/// <summary>One decoder layer: <c>x + self_attn(input_layernorm(x))</c>, then <c>x + mlp(post_attention_layernorm(x))</c>.</summary>
internal sealed class LlamaDecoderLayer : nn.Module
{
    [ComponentName(Name = "input_layernorm")] readonly RmsNorm inputNorm;
    [ComponentName(Name = "self_attn")] readonly LlamaAttention attention;
    [ComponentName(Name = "post_attention_layernorm")] readonly RmsNorm postAttentionNorm;
    [ComponentName(Name = "mlp")] readonly LlamaMlp mlp;

    public LlamaDecoderLayer(LlamaConfig config, int layerIndex) : base(nameof(LlamaDecoderLayer))
    {
        inputNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        attention = new LlamaAttention(config, layerIndex);
        postAttentionNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        mlp = new LlamaMlp(config);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor mask, Tensor cos, Tensor sin, KeyValueCache? cache)
    {
        x = x + attention.forward(inputNorm.call(x), mask, cos, sin, cache);
        return x + mlp.forward(postAttentionNorm.call(x));
    }
}

/// <summary>Rotary self-attention with <c>num_key_value_heads</c> key/value heads shared by groups of query heads.</summary>
internal sealed class LlamaAttention : nn.Module
{
    [ComponentName(Name = "q_proj")] readonly FastLinear queryProjection;
    [ComponentName(Name = "k_proj")] readonly FastLinear keyProjection;
    [ComponentName(Name = "v_proj")] readonly FastLinear valueProjection;
    [ComponentName(Name = "o_proj")] readonly FastLinear outputProjection;
    readonly int heads, kvHeads, headDim, layerIndex;
    readonly double dropout;

    public LlamaAttention(LlamaConfig config, int layerIndex) : base(nameof(LlamaAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.KeyValueHeads;
        headDim = config.HeadDim;
        this.layerIndex = layerIndex;
        dropout = config.AttentionDropout;
        double std = config.InitializerRange;
        queryProjection = LlamaMlp.Linear(config.HiddenSize, heads * headDim, config.QkvBias, std);
        keyProjection = LlamaMlp.Linear(config.HiddenSize, kvHeads * headDim, config.QkvBias, std);
        valueProjection = LlamaMlp.Linear(config.HiddenSize, kvHeads * headDim, config.QkvBias, std);
        outputProjection = LlamaMlp.Linear(heads * headDim, config.HiddenSize, config.OutputBias, std);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor mask, Tensor cos, Tensor sin, KeyValueCache? cache)
    {
        long batch = x.shape[0], length = x.shape[1];
        Tensor q = queryProjection.call(x).view(batch, length, heads, headDim).transpose(1, 2);
        Tensor k = keyProjection.call(x).view(batch, length, kvHeads, headDim).transpose(1, 2);
        Tensor v = valueProjection.call(x).view(batch, length, kvHeads, headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Update(layerIndex, k, v);
        k = RepeatKeyValue(k);
        v = RepeatKeyValue(v);
        Tensor scores = matmul(q, k.transpose(-1, -2)) * (1.0 / Math.Sqrt(headDim)) + mask;
        Tensor probs = scores.softmax(-1, ScalarType.Float32).to_type(q.dtype);
        if (training && dropout > 0) probs = nn.functional.dropout(probs, dropout, training: true);
        Tensor y = matmul(probs, v).transpose(1, 2).reshape(batch, length, heads * headDim);
        return outputProjection.call(y);
    }

    /// <summary>[b, kv_heads, s, d] → [b, heads, s, d]: query head h reads key/value head h / (heads / kv_heads).</summary>
    Tensor RepeatKeyValue(Tensor t)
    {
        int groups = heads / kvHeads;
        if (groups == 1) return t;
        long b = t.shape[0], s = t.shape[2];
        return t.unsqueeze(2).expand(b, kvHeads, groups, s, headDim).reshape(b, heads, s, headDim);
    }
}

/// <summary>The SwiGLU MLP: <c>down_proj(act(gate_proj(x)) * up_proj(x))</c>.</summary>
internal sealed class LlamaMlp : nn.Module
{
    [ComponentName(Name = "gate_proj")] readonly FastLinear gate;
    [ComponentName(Name = "up_proj")] readonly FastLinear up;
    [ComponentName(Name = "down_proj")] readonly FastLinear down;
    readonly string activation;

    public LlamaMlp(LlamaConfig config) : base(nameof(LlamaMlp))
    {
        double std = config.InitializerRange;
        gate = Linear(config.HiddenSize, config.IntermediateSize, config.MlpBias, std);
        up = Linear(config.HiddenSize, config.IntermediateSize, config.MlpBias, std);
        down = Linear(config.IntermediateSize, config.HiddenSize, config.MlpBias, std);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public Tensor forward(Tensor x) => down.call(Activations.Apply(activation, gate.call(x)) * up.call(x));

    /// <summary>A linear layer initialised as <c>transformers</c> does: weight ~ N(0, std²), bias zero.</summary>
    internal static FastLinear Linear(long inFeatures, long outFeatures, bool bias, double std)
    {
        var layer = new FastLinear(inFeatures, outFeatures, hasBias: bias);
        using (no_grad())
        {
            nn.init.normal_(layer.Weight, 0, std);
            if (layer.Bias is not null) nn.init.zeros_(layer.Bias);
        }
        return layer;
    }
}
