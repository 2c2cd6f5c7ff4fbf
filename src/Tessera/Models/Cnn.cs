using TorchSharp;
using TorchSharp.Modules;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// A small convolutional classifier:
/// <c>conv1</c> Conv2d(in,32,3,pad 1) → ReLU → MaxPool2d(2) → <c>conv2</c> Conv2d(32,64,3,pad 1) → ReLU → MaxPool2d(2)
/// → flatten → <c>fc1</c> Linear(64·(s/4)², hidden) → ReLU → <c>fc2</c> Linear(hidden, classes).
/// Parameter names and layouts match the equivalent PyTorch module
/// (<c>conv1.weight</c> [32,in,3,3], <c>conv1.bias</c>, <c>conv2.*</c>, <c>fc1.weight</c> [hidden,3136], <c>fc1.bias</c>, <c>fc2.*</c>).
/// </summary>
public sealed class Cnn : nn.Module<Tensor, Tensor>, IPretrainedModel
{
    readonly Conv2d conv1;
    readonly Conv2d conv2;
    readonly MaxPool2d pool;
    readonly Linear fc1;
    readonly Linear fc2;

    /// <summary>Builds the model with freshly initialised weights (PyTorch's default initialisation).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public Cnn(CnnConfig config) : base(nameof(Cnn))
    {
        config.Validate();
        Config = config;
        conv1 = nn.Conv2d(config.InChannels, CnnConfig.Conv1Channels, 3, padding: 1);
        conv2 = nn.Conv2d(CnnConfig.Conv1Channels, CnnConfig.Conv2Channels, 3, padding: 1);
        pool = nn.MaxPool2d(2);
        fc1 = nn.Linear(config.FlattenedFeatures, config.Hidden);
        fc2 = nn.Linear(config.Hidden, config.NumClasses);
        RegisterComponents();
    }

    /// <summary>The configuration this model was built from.</summary>
    public CnnConfig Config { get; }

    /// <inheritdoc/>
    public PretrainedConfig PretrainedConfig => Config;

    /// <summary>Loads a model folder written by <see cref="PretrainedModels.SavePretrained{TModel}"/> (config.json with <c>model_type</c> <c>cnn</c>, model.safetensors), in eval mode.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config describes another architecture or is invalid, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static Cnn FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        PretrainedModels.FromPretrained<Cnn, CnnConfig>(folder, c => new Cnn(c), options);

    /// <summary>Maps images [batch, in_channels, size, size] to logits [batch, num_classes].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = pool.call(nn.functional.relu(conv1.call(input)));
        x = pool.call(nn.functional.relu(conv2.call(x)));
        x = x.flatten(1);
        x = nn.functional.relu(fc1.call(x));
        return fc2.call(x).MoveToOuterDisposeScope();
    }
}
