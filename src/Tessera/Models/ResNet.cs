using TorchSharp;
using TorchSharp.Modules;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// A small CIFAR-style ResNet: stem conv3x3 → BN → ReLU, then stages of basic blocks
/// (conv3x3-BN-ReLU-conv3x3-BN plus shortcut, ReLU), global average pooling and a linear classifier.
/// Stage 0 keeps the input resolution; each later stage starts with a stride-2 block. Convolutions have no bias
/// (BatchNorm follows each). Names follow torchvision: <c>conv1.weight</c>, <c>bn1.{weight,bias,running_mean,running_var,num_batches_tracked}</c>,
/// <c>layers.{stage}.{block}.conv1.weight</c>, <c>…bn1.*</c>, <c>…conv2.weight</c>, <c>…bn2.*</c>,
/// <c>…downsample.0.weight</c> (1x1 conv) and <c>…downsample.1.*</c> (BN) where a block changes shape, and <c>fc.{weight,bias}</c>.
/// </summary>
public sealed class ResNet : nn.Module<Tensor, Tensor>, IPretrainedModel
{
    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly ModuleList<Sequential> layers;
    readonly AdaptiveAvgPool2d pool;
    readonly Linear fc;

    /// <summary>Builds the model with freshly initialised weights (PyTorch's default initialisation).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public ResNet(ResNetConfig config) : base(nameof(ResNet))
    {
        config.Validate();
        Config = config;
        int width = config.Widths[0];
        conv1 = nn.Conv2d(config.InChannels, width, 3, padding: 1, bias: false);
        bn1 = BasicBlock.Norm(width, config);
        layers = new ModuleList<Sequential>();
        int inChannels = width;
        for (int stage = 0; stage < config.Depths.Count; stage++)
        {
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int b = 0; b < config.Depths[stage]; b++)
            {
                int stride = stage > 0 && b == 0 ? 2 : 1;
                blocks.Add((b.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    new BasicBlock(inChannels, config.Widths[stage], stride, config)));
                inChannels = config.Widths[stage];
            }
            layers.Add(nn.Sequential(blocks));
        }
        pool = nn.AdaptiveAvgPool2d(1);
        fc = nn.Linear(inChannels, config.NumClasses);
        RegisterComponents();
    }

    /// <summary>The configuration this model was built from.</summary>
    public ResNetConfig Config { get; }

    /// <inheritdoc/>
    public PretrainedConfig PretrainedConfig => Config;

    /// <summary>Loads a model folder written by <see cref="PretrainedModels.SavePretrained{TModel}"/> (config.json with <c>model_type</c> <c>resnet</c>, model.safetensors), in eval mode.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config describes another architecture or is invalid, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static ResNet FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        PretrainedModels.FromPretrained<ResNet, ResNetConfig>(folder, c => new ResNet(c), options);

    /// <summary>Maps images [batch, in_channels, H, W] to logits [batch, num_classes].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.relu(bn1.call(conv1.call(input)));
        foreach (var stage in layers) x = stage.call(x);
        x = pool.call(x).flatten(1);
        return fc.call(x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The residual block: <c>relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))</c>, where the shortcut is the
    /// identity, or a 1x1 conv + BN named <c>downsample</c> when the stride or channel count changes.
    /// </summary>
    sealed class BasicBlock : nn.Module<Tensor, Tensor>
    {
        readonly Conv2d conv1;
        readonly BatchNorm2d bn1;
        readonly Conv2d conv2;
        readonly BatchNorm2d bn2;
        readonly Sequential? downsample;

        public BasicBlock(int inChannels, int outChannels, int stride, ResNetConfig config) : base(nameof(BasicBlock))
        {
            conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
            bn1 = Norm(outChannels, config);
            conv2 = nn.Conv2d(outChannels, outChannels, 3, padding: 1, bias: false);
            bn2 = Norm(outChannels, config);
            if (stride != 1 || inChannels != outChannels)
                downsample = nn.Sequential(
                    nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false),
                    Norm(outChannels, config));
            RegisterComponents();
        }

        internal static BatchNorm2d Norm(int channels, ResNetConfig config) =>
            nn.BatchNorm2d(channels, eps: config.BatchNormEps, momentum: config.BatchNormMomentum);

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = nn.functional.relu(bn1.call(conv1.call(x)));
            y = bn2.call(conv2.call(y));
            var shortcut = downsample is null ? x : downsample.call(x);
            return nn.functional.relu(y + shortcut).MoveToOuterDisposeScope();
        }
    }
}
