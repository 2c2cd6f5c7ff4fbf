using Tessera.Models;

namespace Tessera.Transformers;

/// <summary>Builds the masked language model a folder's <c>config.json</c> describes through the <see cref="ModelRegistry"/>: <c>bert</c> → <see cref="BertForMaskedLM"/>, or a registered architecture's.</summary>
public static class AutoModelForMaskedLM
{
    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching model and loads its weights.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config is invalid, its model_type has no masked LM here, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static PreTrainedModel FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        PretrainedModels.FromPretrained(ModelTasks.MaskedLM, folder, options);
}
