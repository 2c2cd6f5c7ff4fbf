using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// GPT-2 with its language-modelling head (<c>GPT2LMHeadModel</c>): the transformer under <c>transformer.</c> and an
/// output projection tied to <c>transformer.wte</c> (so the state_dict, like HF's saved checkpoints, has no
/// <c>lm_head.weight</c>).
/// </summary>
public sealed class Gpt2LMHeadModel : CausalLanguageModel
{
    [ComponentName(Name = "transformer")] readonly Gpt2Model transformer;

    /// <summary>Builds the model with freshly initialised weights.</summary>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public Gpt2LMHeadModel(Gpt2Config config) : base(nameof(Gpt2LMHeadModel))
    {
        transformer = new Gpt2Model(config);
        RegisterComponents();
    }

    /// <summary>Loads config.json and the safetensors weights of a model folder.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config or weights are invalid or do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static Gpt2LMHeadModel FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        Build<Gpt2LMHeadModel, Gpt2Config>(folder, options, c => new Gpt2LMHeadModel(c));

    /// <summary>The configuration.</summary>
    public Gpt2Config Config => transformer.Config;

    /// <inheritdoc/>
    public override PretrainedConfig PretrainedConfig => Config;

    /// <summary>The transformer body.</summary>
    public Gpt2Model Transformer => transformer;

    /// <inheritdoc/>
    public override string BaseModelPrefix => "transformer";

    /// <inheritdoc/>
    public override int VocabSize => Config.VocabSize;

    /// <inheritdoc/>
    public override int NumLayers => Config.NLayer;

    /// <inheritdoc/>
    public override int MaxPositions => Config.NPositions;

    /// <inheritdoc/>
    public override bool IsIgnoredCheckpointKey(string key) => transformer.IsIgnoredCheckpointKey(key);

    /// <inheritdoc/>
    public override CausalLMOutput forward(Tensor inputIds, Tensor? attentionMask = null, KeyValueCache? pastKeyValues = null, bool useCache = true)
    {
        using var scope = NewDisposeScope();
        DecoderOutput body = transformer.forward(inputIds, attentionMask, pastKeyValues, useCache);
        Tensor logits = DecodeMatMul.TryLinear(body.LastHiddenState, transformer.Wte.weight!) ?? nn.functional.linear(body.LastHiddenState, transformer.Wte.weight!);
        return new CausalLMOutput(logits.MoveToOuterDisposeScope(), body.PastKeyValues);
    }
}
