using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// A Llama-family causal LM (<c>LlamaForCausalLM</c>; also Qwen2ForCausalLM and MistralForCausalLM): the decoder
/// under <c>model.</c> and <c>lm_head</c>, which is the embedding itself when <c>tie_word_embeddings</c> (then, as in
/// HF's saved checkpoints, the state_dict has no <c>lm_head.weight</c>).
/// </summary>
public sealed class LlamaForCausalLM : CausalLanguageModel
{
    [ComponentName(Name = "model")] readonly LlamaModel model;
    [ComponentName(Name = "lm_head")] readonly FastLinear? lmHead;

    /// <summary>Builds the model with freshly initialised weights.</summary>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM))
    {
        model = new LlamaModel(config);
        lmHead = config.TieWordEmbeddings ? null : LlamaMlp.Linear(config.HiddenSize, config.VocabSize, false, config.InitializerRange);
        RegisterComponents();
    }

    /// <summary>Loads config.json and the safetensors weights of a model folder (<c>model_type</c> llama, qwen2 or mistral).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config or weights are invalid or do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static LlamaForCausalLM FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        Build<LlamaForCausalLM, LlamaConfig>(folder, options, c => new LlamaForCausalLM(c));

    /// <summary>The configuration.</summary>
    public LlamaConfig Config => model.Config;

    /// <inheritdoc/>
    public override PretrainedConfig PretrainedConfig => Config;

    /// <summary>The decoder body.</summary>
    public LlamaModel Model => model;

    /// <inheritdoc/>
    public override string BaseModelPrefix => "model";

    /// <inheritdoc/>
    public override int VocabSize => Config.VocabSize;

    /// <inheritdoc/>
    public override int NumLayers => Config.NumHiddenLayers;

    /// <inheritdoc/>
    public override int MaxPositions => Config.MaxPositionEmbeddings;

    /// <summary>A tied checkpoint may still carry <c>lm_head.weight</c>; old ones carry rotary <c>inv_freq</c> buffers.</summary>
    public override bool IsIgnoredCheckpointKey(string key) =>
        (key == "lm_head.weight" && lmHead is null) || key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    /// <inheritdoc/>
    public override CausalLMOutput forward(Tensor inputIds, Tensor? attentionMask = null, KeyValueCache? pastKeyValues = null, bool useCache = true)
    {
        using var scope = NewDisposeScope();
        DecoderOutput body = model.forward(inputIds, attentionMask, pastKeyValues, useCache);
        Tensor logits = lmHead is null
            ? DecodeMatMul.TryLinear(body.LastHiddenState, model.EmbedTokens.weight!) ?? nn.functional.linear(body.LastHiddenState, model.EmbedTokens.weight!)
            : lmHead.call(body.LastHiddenState);
        return new CausalLMOutput(logits.MoveToOuterDisposeScope(), body.PastKeyValues);
    }
}
