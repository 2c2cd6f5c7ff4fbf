using Tessera.Transformers;

namespace Tessera.Models;

/// <summary>
/// A module built from a <see cref="PretrainedConfig"/>, which <see cref="PretrainedModels.SavePretrained{TModel}"/>
/// writes as a model folder and <see cref="PretrainedModels.FromPretrained{TModel}(ModelTask{TModel}, string, FromPretrainedOptions?)"/>
/// reads back. Every built-in architecture implements it: the Hugging Face models through <see cref="PreTrainedModel"/>,
/// the image classifiers (<see cref="Cnn"/>, <see cref="Mlp"/>, <see cref="ResNet"/>) directly, and a user's
/// architecture the same way.
/// </summary>
public interface IPretrainedModel
{
    /// <summary>The configuration the model was built from (written as <c>config.json</c>).</summary>
    PretrainedConfig PretrainedConfig { get; }

    /// <summary>
    /// The attribute that holds the base model inside task heads (<c>transformer</c> for GPT-2, <c>bert</c> for BERT),
    /// or empty for models without a base/head split. Checkpoints saved from a head load into the base model and the
    /// other way round by adding or removing this prefix, as <c>transformers</c> does.
    /// </summary>
    string BaseModelPrefix => "";

    /// <summary>
    /// Whether a checkpoint tensor that fills no parameter is expected and may be dropped silently (old buffers, a tied
    /// head saved twice, another head's weights, ...).
    /// </summary>
    bool IsIgnoredCheckpointKey(string key) => false;

    /// <summary>
    /// The parameter name a checkpoint tensor of an older naming fills (e.g. diffusers' legacy attention names), tried
    /// when <paramref name="key"/> itself fills nothing; the key unchanged when there is no such rule.
    /// </summary>
    string CheckpointKey(string key) => key;
}
