using System.Text.Json;
using Tessera.Formats;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// An image classifier's model folder as the recipes and the CLI see it: the <see cref="PretrainedModels"/> folder
/// (<c>config.json</c> with <c>id2label</c>/<c>label2id</c>, <c>model.safetensors</c>) plus
/// <c>preprocessor_config.json</c> (image normalization) and <c>README.md</c> (the model card).
/// </summary>
public sealed class ModelFolder
{
    /// <summary>Config file name.</summary>
    public const string ConfigFile = PretrainedModels.ConfigFile;
    /// <summary>Weights file name.</summary>
    public const string WeightsFile = PretrainedModels.WeightsFile;
    /// <summary>Preprocessing file name (HF image processor style).</summary>
    public const string PreprocessorFile = "preprocessor_config.json";
    /// <summary>Model card file name.</summary>
    public const string CardFile = "README.md";

    private ModelFolder(string path, PretrainedConfig config, ImagePreprocessingConfig preprocessing)
    {
        Path = path;
        Config = config;
        Preprocessing = preprocessing;
        Labels = config.Labels;
    }

    /// <summary>The folder.</summary>
    public string Path { get; }
    /// <summary>The architecture config.</summary>
    public PretrainedConfig Config { get; }
    /// <summary>How images must be prepared for the model.</summary>
    public ImagePreprocessingConfig Preprocessing { get; }
    /// <summary>Class names by index (from <c>id2label</c>, see <see cref="LabelNames"/>); empty when absent.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>
    /// Writes an image classifier folder: <see cref="PretrainedModels.SavePretrained(nn.Module, PretrainedConfig, string, long, ScalarType?)"/>
    /// with <paramref name="labels"/> as the config's <c>id2label</c>/<c>label2id</c>, then the preprocessing and the
    /// optional card. Each file is written atomically.
    /// </summary>
    public static void Save(string dir, PretrainedConfig config, nn.Module model, ImagePreprocessingConfig preprocessing,
        IReadOnlyList<string>? labels = null, ModelCard? card = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(preprocessing);
        PretrainedModels.SavePretrained(model, labels is null ? config : config.WithLabels(labels), dir);
        AtomicFile.WriteAllText(System.IO.Path.Combine(dir, PreprocessorFile), JsonSerializer.Serialize(preprocessing, Indented) + "\n");
        card?.Save(System.IO.Path.Combine(dir, CardFile));
    }

    /// <summary>Reads a model folder's config, preprocessing and labels (not the weights).</summary>
    /// <exception cref="TesseraFormatException">A file is missing or malformed; the message names it.</exception>
    public static ModelFolder Open(string dir)
    {
        PretrainedConfig config = PretrainedModels.ReadConfig(dir);
        string prePath = System.IO.Path.Combine(dir, PreprocessorFile);
        ImagePreprocessingConfig pre;
        try { pre = File.Exists(prePath) ? ImagePreprocessingConfig.FromJson(File.ReadAllText(prePath)) : new(); }
        catch (JsonException e) { throw new TesseraFormatException(prePath, "invalid JSON: " + e.Message, e); }
        return new ModelFolder(dir, config, pre);
    }

    /// <summary>Builds the image classifier and loads its weights (strictly: every tensor must match); see <see cref="AutoModelForImageClassification"/>.</summary>
    /// <exception cref="TesseraFormatException">The model_type has no image classifier, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">The weights are missing.</exception>
    public nn.Module<Tensor, Tensor> LoadModel(Device? device = null) =>
        PretrainedModels.FromPretrained(ModelTasks.ImageClassification, Path, Config, new FromPretrainedOptions { Device = device });

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
