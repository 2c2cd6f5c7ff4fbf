using System.Text.Json.Serialization;
using Tessera.Transformers;

namespace Tessera.Models;

/// <summary>
/// Configuration of <c>Tessera.Models.Cnn</c>, the two-convolution classifier for small square images
/// (Fashion-MNIST by default). Serialized as <c>config.json</c> with <c>"model_type": "cnn"</c>.
/// </summary>
public sealed record CnnConfig : PretrainedConfig
{
    /// <summary>The <c>model_type</c> value of this architecture.</summary>
    public const string Type = "cnn";

    /// <summary>Creates a config with <c>model_type</c> <c>cnn</c> and the default values.</summary>
    public CnnConfig() => ModelType = Type;

    /// <summary>Channels of the input images (1 for grayscale).</summary>
    [JsonPropertyName("in_channels")]
    public int InChannels { get; init; } = 1;

    /// <summary>Height and width of the (square) input images.</summary>
    [JsonPropertyName("image_size")]
    public int ImageSize { get; init; } = 28;

    /// <summary>Number of output classes (logits).</summary>
    [JsonPropertyName("num_classes")]
    public int NumClasses { get; init; } = 10;

    /// <summary>Width of the hidden fully connected layer <c>fc1</c>.</summary>
    [JsonPropertyName("hidden")]
    public int Hidden { get; init; } = 128;

    /// <summary>Output channels of <c>conv1</c> (fixed by the architecture).</summary>
    public const int Conv1Channels = 32;

    /// <summary>Output channels of <c>conv2</c> (fixed by the architecture).</summary>
    public const int Conv2Channels = 64;

    /// <summary>
    /// Input features of <c>fc1</c>: two 2x2 max pools (flooring) shrink the image to <c>image_size/4</c> per side,
    /// times 64 channels; 3136 for 28x28 images.
    /// </summary>
    [JsonIgnore]
    public int FlattenedFeatures => (ImageSize / 4) * (ImageSize / 4) * Conv2Channels; // floor(floor(s/2)/2) == floor(s/4)

    /// <inheritdoc/>
    public override void Validate()
    {
        Require(InChannels > 0, "in_channels", $"must be positive, got {InChannels}");
        Require(ImageSize >= 4, "image_size", $"must be at least 4 (two 2x2 max pools), got {ImageSize}");
        Require((long)(ImageSize / 4) * (ImageSize / 4) * Conv2Channels <= int.MaxValue, "image_size",
            $"{ImageSize} is too large: fc1 would need {(long)(ImageSize / 4) * (ImageSize / 4) * Conv2Channels} input features (at most {int.MaxValue})");
        Require(NumClasses > 0, "num_classes", $"must be positive, got {NumClasses}");
        Require(Hidden > 0, "hidden", $"must be positive, got {Hidden}");
    }
}
