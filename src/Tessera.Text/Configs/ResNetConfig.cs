using System.Text.Json.Serialization;
using Tessera.Transformers;

namespace Tessera.Models;

/// <summary>
/// Configuration of <c>Tessera.Models.ResNet</c>, a small CIFAR-style residual network for small images
/// (28x28 grayscale by default). Serialized as <c>config.json</c> with <c>"model_type": "resnet"</c>.
/// </summary>
public sealed record ResNetConfig : PretrainedConfig
{
    /// <summary>The <c>model_type</c> value of this architecture.</summary>
    public const string Type = "resnet";

    /// <summary>Creates a config with <c>model_type</c> <c>resnet</c> and the default values.</summary>
    public ResNetConfig() => ModelType = Type;

    /// <summary>Channels of the input images (1 for grayscale).</summary>
    [JsonPropertyName("in_channels")]
    public int InChannels { get; init; } = 1;

    /// <summary>Number of output classes (logits).</summary>
    [JsonPropertyName("num_classes")]
    public int NumClasses { get; init; } = 10;

    /// <summary>Basic blocks per stage; stage 0 keeps the resolution, each later stage halves it.</summary>
    [JsonPropertyName("depths")]
    public IReadOnlyList<int> Depths { get; init; } = [2, 2, 2];

    /// <summary>Channels of each stage; the stem convolution outputs <c>widths[0]</c>.</summary>
    [JsonPropertyName("widths")]
    public IReadOnlyList<int> Widths { get; init; } = [16, 32, 64];

    /// <summary>Epsilon of every BatchNorm layer.</summary>
    [JsonPropertyName("batch_norm_eps")]
    public double BatchNormEps { get; init; } = 1e-5;

    /// <summary>Momentum of every BatchNorm layer's running statistics (PyTorch convention).</summary>
    [JsonPropertyName("batch_norm_momentum")]
    public double BatchNormMomentum { get; init; } = 0.1;

    /// <inheritdoc/>
    public override void Validate()
    {
        Require(InChannels > 0, "in_channels", $"must be positive, got {InChannels}");
        Require(NumClasses > 0, "num_classes", $"must be positive, got {NumClasses}");
        Require(Depths is { Count: > 0 }, "depths", "must list at least one stage");
        Require(Widths is not null && Widths.Count == Depths!.Count, "widths",
            $"must have one entry per stage ({Depths!.Count}), got {Widths?.Count ?? 0}");
        for (int i = 0; i < Depths.Count; i++)
        {
            Require(Depths[i] > 0, "depths", $"entry {i} must be positive, got {Depths[i]}");
            Require(Widths![i] > 0, "widths", $"entry {i} must be positive, got {Widths[i]}");
        }
        Require(BatchNormEps > 0, "batch_norm_eps", $"must be positive, got {BatchNormEps}");
        Require(BatchNormMomentum is > 0 and <= 1, "batch_norm_momentum", $"must be in (0, 1], got {BatchNormMomentum}");
    }

    /// <summary>Value equality that compares <see cref="Depths"/> and <see cref="Widths"/> element-wise (and the base fields).</summary>
    public bool Equals(ResNetConfig? other) =>
        base.Equals(other) && other is not null && InChannels == other.InChannels && NumClasses == other.NumClasses &&
        BatchNormEps.Equals(other.BatchNormEps) && BatchNormMomentum.Equals(other.BatchNormMomentum) &&
        Depths.SequenceEqual(other.Depths) && Widths.SequenceEqual(other.Widths);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), InChannels, NumClasses, Depths.Count, Widths.Count);
}
