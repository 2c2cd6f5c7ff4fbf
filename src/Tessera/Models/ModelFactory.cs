using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>Builds the module a <see cref="ModelConfig"/> describes.</summary>
public static class ModelFactory
{
    /// <summary>Creates a freshly initialised model for <paramref name="config"/> (on the CPU, in training mode).</summary>
    /// <param name="config">A validated or unvalidated config; it is validated here.</param>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    /// <exception cref="NotSupportedException">The config's type has no model in this version.</exception>
    public static nn.Module<Tensor, Tensor> Create(ModelConfig config) => config switch
    {
        CnnConfig c => new Cnn(c),
        MlpConfig m => new Mlp(m),
        ResNetConfig r => new ResNet(r),
        null => throw new ArgumentNullException(nameof(config)),
        _ => throw new NotSupportedException($"no model for model_type \"{config.ModelType}\" ({config.GetType().Name})"),
    };
}
