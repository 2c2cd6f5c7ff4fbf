using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// The GPT-2 transformer (<c>GPT2Model</c>): token and position embeddings, <c>n_layer</c> pre-norm blocks and a final
/// LayerNorm. Parameter names are those of the Hugging Face checkpoints: <c>wte</c>, <c>wpe</c>,
/// <c>h.{i}.ln_1</c>, <c>h.{i}.attn.c_attn</c>, <c>h.{i}.attn.c_proj</c>, <c>h.{i}.ln_2</c>, <c>h.{i}.mlp.c_fc</c>,
/// <c>h.{i}.mlp.c_proj</c>, <c>ln_f</c>; the projections are <see cref="Conv1D"/> with weights [in, out].
/// </summary>
public sealed class Gpt2Model : PreTrainedModel
{
    [ComponentName(Name = "wte")] readonly Embedding tokenEmbedding;
    [ComponentName(Name = "wpe")] readonly Embedding positionEmbedding;
    [ComponentName(Name = "drop")] readonly Dropout dropout;
    [ComponentName(Name = "h")] readonly ModuleList<Gpt2Block> blocks;
    [ComponentName(Name = "ln_f")] readonly LayerNorm finalNorm;

    /// <summary>Builds the model with <c>transformers</c>' initialisation: N(0, initializer_range) weights (residual projections scaled by 1/sqrt(2 n_layer)), zero biases, unit norms.</summary>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public Gpt2Model(Gpt2Config config) : base(nameof(Gpt2Model))
    {
        config.Validate();
        Config = config;
        tokenEmbedding = nn.Embedding(config.VocabSize, config.NEmbd);
        positionEmbedding = nn.Embedding(config.NPositions, config.NEmbd);
        using (no_grad())
        {
            nn.init.normal_(tokenEmbedding.weight!, 0, config.InitializerRange);
            nn.init.normal_(positionEmbedding.weight!, 0, config.InitializerRange);
        }
        dropout = nn.Dropout(config.EmbdPdrop);
        blocks = new ModuleList<Gpt2Block>();
        for (int i = 0; i < config.NLayer; i++) blocks.Add(new Gpt2Block(config, i));
        finalNorm = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <summary>The configuration.</summary>
    public Gpt2Config Config { get; }

    /// <inheritdoc/>
    public override PretrainedConfig PretrainedConfig => Config;

    /// <inheritdoc/>
    public override string BaseModelPrefix => "transformer";

    /// <summary>The token embedding <c>wte</c> [vocab, n_embd] (also the tied output projection).</summary>
    public Embedding Wte => tokenEmbedding;

    /// <summary>Old checkpoints carry the causal-mask buffers <c>attn.bias</c>/<c>attn.masked_bias</c>, and LM-head checkpoints a tied <c>lm_head.weight</c>.</summary>
    public override bool IsIgnoredCheckpointKey(string key) =>
        key.EndsWith(".attn.bias", StringComparison.Ordinal) || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal) || key == "lm_head.weight";

    /// <summary>Dropout only while training: in eval it is the identity, and skipping the module call saves per-token overhead.</summary>
    internal static Tensor Dropout(Dropout dropout, Tensor x) => dropout.training ? dropout.call(x) : x;

    /// <summary>Runs the transformer on <paramref name="inputIds"/> [batch, new_tokens]; see <see cref="CausalLanguageModel.forward"/> for the mask and cache.</summary>
    /// <exception cref="ArgumentException">More than n_positions positions, or a mask of the wrong length.</exception>
    public DecoderOutput forward(Tensor inputIds, Tensor? attentionMask = null, KeyValueCache? pastKeyValues = null, bool useCache = true)
    {
        if (!useCache && pastKeyValues is not null) throw new ArgumentException("pastKeyValues was given with useCache false", nameof(pastKeyValues));
        long past = pastKeyValues?.SequenceLength ?? 0, length = inputIds.shape[1];
        if (past + length > Config.NPositions)
            throw new ArgumentException($"sequence of {past + length} positions ({past} cached + {length} new) is longer than n_positions = {Config.NPositions}", nameof(inputIds));
        KeyValueCache? cache = useCache ? pastKeyValues ?? new KeyValueCache(Config.NLayer) : null;

        using var scope = NewDisposeScope();
        Device device = inputIds.device;
        Tensor positions = AttentionMasks.PositionIds(attentionMask, past, length, device);
        Tensor x = Dropout(dropout, tokenEmbedding.call(inputIds) + positionEmbedding.call(positions));
        // One new token with no padding mask may see every position: no mask to add (saves an op per layer when decoding).
        Tensor? mask = attentionMask is null && length == 1 ? null : AttentionMasks.Causal(attentionMask, past, length, x.dtype, device);
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].forward(x, mask, cache);
        x = finalNorm.call(x);
        return new DecoderOutput(x.MoveToOuterDisposeScope(), cache);
    }
}

/// <summary>One GPT-2 block: <c>x + attn(ln_1(x))</c>, then <c>x + mlp(ln_2(x))</c>.</summary>
internal sealed class Gpt2Block : nn.Module
{
    [ComponentName(Name = "ln_1")] readonly LayerNorm norm1;
    [ComponentName(Name = "attn")] readonly Gpt2Attention attention;
    [ComponentName(Name = "ln_2")] readonly LayerNorm norm2;
    [ComponentName(Name = "mlp")] readonly Gpt2Mlp mlp;

    public Gpt2Block(Gpt2Config config, int layerIndex) : base(nameof(Gpt2Block))
    {
        norm1 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        attention = new Gpt2Attention(config, layerIndex);
        norm2 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        mlp = new Gpt2Mlp(config);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? mask, KeyValueCache? cache)
    {
        x = x + attention.forward(norm1.call(x), mask, cache);
        return x + mlp.forward(norm2.call(x));
    }
}

/// <summary>Multi-head causal self-attention with a fused q/k/v projection <c>c_attn</c> [n_embd, 3 n_embd].</summary>
internal sealed class Gpt2Attention : nn.Module
{
    [ComponentName(Name = "c_attn")] readonly Conv1D qkv;
    [ComponentName(Name = "c_proj")] readonly Conv1D output;
    [ComponentName(Name = "attn_dropout")] readonly Dropout attentionDropout;
    [ComponentName(Name = "resid_dropout")] readonly Dropout residualDropout;
    readonly int heads, headDim, layerIndex;
    readonly double scale;

    public Gpt2Attention(Gpt2Config config, int layerIndex) : base(nameof(Gpt2Attention))
    {
        qkv = new Conv1D(config.NEmbd, 3 * config.NEmbd, config.InitializerRange);
        output = new Conv1D(config.NEmbd, config.NEmbd, config.InitializerRange / Math.Sqrt(2.0 * config.NLayer));
        attentionDropout = nn.Dropout(config.AttnPdrop);
        residualDropout = nn.Dropout(config.ResidPdrop);
        heads = config.NHead;
        headDim = config.HeadDim;
        this.layerIndex = layerIndex;
        scale = (config.ScaleAttnWeights ? 1.0 / Math.Sqrt(headDim) : 1.0) / (config.ScaleAttnByInverseLayerIdx ? layerIndex + 1 : 1);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? mask, KeyValueCache? cache)
    {
        long batch = x.shape[0], length = x.shape[1], width = x.shape[2];
        Tensor[] parts = qkv.call(x).split(width, 2);
        Tensor q = parts[0].view(batch, length, heads, headDim).transpose(1, 2);
        Tensor k = parts[1].view(batch, length, heads, headDim).transpose(1, 2);
        Tensor v = parts[2].view(batch, length, heads, headDim).transpose(1, 2);
        if (cache is not null) (k, v) = cache.Update(layerIndex, k, v);
        Tensor scores = matmul(q, k.transpose(-1, -2)).mul_(scale);
        if (mask is not null) scores = scores.add_(mask);
        Tensor probs = scores.softmax(-1);
        if (probs.dtype != v.dtype) probs = probs.to_type(v.dtype);
        Tensor y = matmul(Gpt2Model.Dropout(attentionDropout, probs), v).transpose(1, 2).reshape(batch, length, width);
        return Gpt2Model.Dropout(residualDropout, output.call(y));
    }
}

/// <summary>The block's MLP: <c>c_proj(act(c_fc(x)))</c>.</summary>
internal sealed class Gpt2Mlp : nn.Module
{
    [ComponentName(Name = "c_fc")] readonly Conv1D up;
    [ComponentName(Name = "c_proj")] readonly Conv1D down;
    [ComponentName(Name = "dropout")] readonly Dropout dropout;
    readonly string activation;

    public Gpt2Mlp(Gpt2Config config) : base(nameof(Gpt2Mlp))
    {
        up = new Conv1D(config.NEmbd, config.InnerSize, config.InitializerRange);
        down = new Conv1D(config.InnerSize, config.NEmbd, config.InitializerRange / Math.Sqrt(2.0 * config.NLayer));
        dropout = nn.Dropout(config.ResidPdrop);
        activation = config.ActivationFunction;
        RegisterComponents();
    }

    public Tensor forward(Tensor x) => Gpt2Model.Dropout(dropout, down.call(Activations.Apply(activation, up.call(x))));
}
