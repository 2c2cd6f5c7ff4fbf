using Tessera.Models;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>Builds the image classifier a folder's <c>config.json</c> describes: <c>cnn</c> → <see cref="Cnn"/>, <c>mlp</c> → <see cref="Mlp"/>, <c>resnet</c> → <see cref="ResNet"/>, or a registered architecture.</summary>
public static class AutoModelForImageClassification
{
    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching model and loads its weights (in eval mode).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config is invalid, its model_type has no image classifier, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static nn.Module<Tensor, Tensor> FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        PretrainedModels.FromPretrained(ModelTasks.ImageClassification, folder, options);

    /// <summary>A freshly initialised model for <paramref name="config"/> (on the CPU, in training mode).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config's model_type has no image classifier.</exception>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public static nn.Module<Tensor, Tensor> FromConfig(PretrainedConfig config) => ModelRegistry.Create(ModelTasks.ImageClassification, config);
}
