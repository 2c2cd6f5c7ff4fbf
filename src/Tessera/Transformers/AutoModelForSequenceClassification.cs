using Tessera.Models;

namespace Tessera.Transformers;

/// <summary>Builds the sequence classifier a folder's <c>config.json</c> describes through the <see cref="ModelRegistry"/>: <c>bert</c> → <see cref="BertForSequenceClassification"/>, or a registered architecture's.</summary>
public static class AutoModelForSequenceClassification
{
    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching model and loads its weights.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config is invalid, its model_type has no classifier here, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static PreTrainedModel FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        PretrainedModels.FromPretrained(ModelTasks.SequenceClassification, folder, options);
}
