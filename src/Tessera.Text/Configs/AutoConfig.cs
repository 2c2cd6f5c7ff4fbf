namespace Tessera.Transformers;

/// <summary>Reads a Hugging Face <c>config.json</c> into the record its <c>model_type</c> names.</summary>
public static class AutoConfig
{
    /// <summary>The config of <paramref name="path"/> (a model folder or a config.json file); see <see cref="PretrainedConfig.Load(string)"/>.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The file is invalid; the message names the file and the field.</exception>
    /// <exception cref="FileNotFoundException">There is no config.json.</exception>
    public static PretrainedConfig FromPretrained(string path) => PretrainedConfig.Load(path);
}
