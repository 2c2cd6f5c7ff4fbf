using Tessera.Models;

namespace Tessera.Transformers;

/// <summary>Builds the base model (no task head) a folder's <c>config.json</c> describes (<see cref="Gpt2Model"/>, <see cref="LlamaModel"/>, <see cref="BertModel"/>, or a registered architecture's) through the <see cref="ModelRegistry"/>.</summary>
public static class AutoModel
{
    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching base model and loads its weights (a head's checkpoint loads too: the head's tensors are skipped).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config is invalid, its model_type has no base model, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static PreTrainedModel FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        PretrainedModels.FromPretrained(ModelTasks.BaseModel, folder, options);

    /// <summary>A freshly initialised base model for <paramref name="config"/>.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config's model_type has no base model.</exception>
    public static PreTrainedModel FromConfig(PretrainedConfig config) => ModelRegistry.Create(ModelTasks.BaseModel, config);
}
