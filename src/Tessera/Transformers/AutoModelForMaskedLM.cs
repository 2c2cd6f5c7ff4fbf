using Tessera.Formats;

namespace Tessera.Transformers;

/// <summary>Builds the masked language model a folder's <c>config.json</c> describes: <c>bert</c> → <see cref="BertForMaskedLM"/>.</summary>
public static class AutoModelForMaskedLM
{
    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching model and loads its weights.</summary>
    /// <exception cref="TesseraFormatException">The config is invalid, its model_type has no masked LM here, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static BertForMaskedLM FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        AutoConfig.FromPretrained(folder) switch
        {
            BertConfig c => PreTrainedModel.Build(folder, c, options ?? new FromPretrainedOptions(), x => new BertForMaskedLM(x)),
            PretrainedConfig c => throw new TesseraFormatException(Path.Combine(folder, "config.json"), $"model_type \"{c.ModelType}\" has no masked language model (supported: bert)"),
        };
}
