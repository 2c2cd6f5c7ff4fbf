using Tessera.Formats;

namespace Tessera.Transformers;

/// <summary>Builds the sequence classifier a folder's <c>config.json</c> describes: <c>bert</c> → <see cref="BertForSequenceClassification"/>.</summary>
public static class AutoModelForSequenceClassification
{
    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching model and loads its weights.</summary>
    /// <exception cref="TesseraFormatException">The config is invalid, its model_type has no classifier here, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static BertForSequenceClassification FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        AutoConfig.FromPretrained(folder) switch
        {
            BertConfig c => PreTrainedModel.Build(folder, c, options ?? new FromPretrainedOptions(), x => new BertForSequenceClassification(x)),
            PretrainedConfig c => throw new TesseraFormatException(Path.Combine(folder, "config.json"), $"model_type \"{c.ModelType}\" has no sequence classifier (supported: bert)"),
        };
}
