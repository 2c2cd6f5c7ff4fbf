using System.Text.Json.Serialization;

namespace Tessera.Models;

/// <summary>How raw images become model input, stored as <c>preprocessor_config.json</c> (Hugging Face image processor field names).</summary>
public sealed record ImagePreprocessing
{
    /// <summary>Target height in pixels.</summary>
    [JsonPropertyName("height")] public int Height { get; init; } = 28;
    /// <summary>Target width in pixels.</summary>
    [JsonPropertyName("width")] public int Width { get; init; } = 28;
    /// <summary>Number of channels (1 for grayscale).</summary>
    [JsonPropertyName("num_channels")] public int Channels { get; init; } = 1;
    /// <summary>Multiply raw 0..255 pixel values by this first.</summary>
    [JsonPropertyName("rescale_factor")] public double RescaleFactor { get; init; } = 1.0 / 255;
    /// <summary>Per-channel mean subtracted after rescaling.</summary>
    [JsonPropertyName("image_mean")] public float[] Mean { get; init; } = [0f];
    /// <summary>Per-channel standard deviation divided by after the mean.</summary>
    [JsonPropertyName("image_std")] public float[] Std { get; init; } = [1f];
    /// <summary>Invert intensities (white background photos to Fashion-MNIST's black background).</summary>
    [JsonPropertyName("invert")] public bool Invert { get; init; }
}
