using Tessera.Formats;

namespace Tessera.Transformers;

/// <summary>Builds the base model (no task head) a folder's <c>config.json</c> describes: <see cref="Gpt2Model"/>, <see cref="LlamaModel"/> or <see cref="BertModel"/>.</summary>
public static class AutoModel
{
    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching base model and loads its weights (a head's checkpoint loads too: the head's tensors are skipped).</summary>
    /// <exception cref="TesseraFormatException">The config is invalid or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static PreTrainedModel FromPretrained(string folder, FromPretrainedOptions? options = null)
    {
        options ??= new FromPretrainedOptions();
        return AutoConfig.FromPretrained(folder) switch
        {
            Gpt2Config c => PreTrainedModel.Build(folder, c, options, x => new Gpt2Model(x)),
            LlamaConfig c => PreTrainedModel.Build(folder, c, options, x => new LlamaModel(x)),
            BertConfig c => PreTrainedModel.Build(folder, c, options, x => new BertModel(x)),
            PretrainedConfig c => throw new TesseraFormatException(Path.Combine(folder, "config.json"), $"model_type \"{c.ModelType}\" is not supported"),
        };
    }
}
