using TorchSharp;
using TorchSharp.Modules;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// A multilayer perceptron classifier: flatten → (Linear → ReLU → Dropout) per hidden width → Linear to the classes.
/// The linear layers live in one list named <c>layers</c>, so the parameters are
/// <c>layers.0.weight</c> [h0, input_size], <c>layers.0.bias</c>, <c>layers.1.weight</c> [h1, h0], …, and the last
/// index is the output layer (<c>layers.{hidden_sizes.Count}.weight</c> [num_classes, h_last]). ReLU and dropout
/// carry no parameters, so they do not take indices; a PyTorch <c>nn.ModuleList</c> of the same Linear layers loads
/// these weights unchanged.
/// </summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>, IPretrainedModel
{
    readonly ModuleList<Linear> layers;
    readonly Dropout? dropout;

    /// <summary>Builds the model with freshly initialised weights (PyTorch's default initialisation).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public Mlp(MlpConfig config) : base(nameof(Mlp))
    {
        config.Validate();
        Config = config;
        layers = new ModuleList<Linear>();
        int inFeatures = config.InputSize;
        foreach (int width in config.HiddenSizes)
        {
            layers.Add(nn.Linear(inFeatures, width));
            inFeatures = width;
        }
        layers.Add(nn.Linear(inFeatures, config.NumClasses));
        dropout = config.Dropout > 0 ? nn.Dropout(config.Dropout) : null;
        RegisterComponents();
    }

    /// <summary>The configuration this model was built from.</summary>
    public MlpConfig Config { get; }

    /// <inheritdoc/>
    public PretrainedConfig PretrainedConfig => Config;

    /// <summary>Loads a model folder written by <see cref="PretrainedModels.SavePretrained{TModel}"/> (config.json with <c>model_type</c> <c>mlp</c>, model.safetensors), in eval mode.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config describes another architecture or is invalid, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static Mlp FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        PretrainedModels.FromPretrained<Mlp, MlpConfig>(folder, c => new Mlp(c), options);

    /// <summary>Maps inputs [batch, ...] (flattened to [batch, input_size]) to logits [batch, num_classes].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.flatten(1);
        for (int i = 0; i < layers.Count - 1; i++)
        {
            x = nn.functional.relu(layers[i].call(x));
            if (dropout is not null) x = dropout.call(x);
        }
        return layers[layers.Count - 1].call(x).MoveToOuterDisposeScope();
    }
}
