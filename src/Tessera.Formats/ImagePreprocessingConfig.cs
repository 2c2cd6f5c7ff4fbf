using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Formats;

/// <summary>
/// How an image becomes model input, read from a model folder's <c>preprocessor_config.json</c> or the
/// <c>tessera.preprocessing</c> metadata of an exported .onnx (Hugging Face image processor field names).
/// Pixels are channel-first (CHW); a pixel in 0..1 becomes <c>((invert ? 1 - p : p) - mean[c]) / std[c]</c>.
/// </summary>
public sealed record ImagePreprocessingConfig
{
    /// <summary>Height the model takes, in pixels.</summary>
    [JsonPropertyName("height")] public int Height { get; init; } = 28;
    /// <summary>Width the model takes, in pixels.</summary>
    [JsonPropertyName("width")] public int Width { get; init; } = 28;
    /// <summary>Number of channels (1 for grayscale, 3 for RGB).</summary>
    [JsonPropertyName("num_channels")] public int Channels { get; init; } = 1;
    /// <summary>Factor that turns raw 0..255 values into 0..1 (used by the byte overloads).</summary>
    [JsonPropertyName("rescale_factor")] public double RescaleFactor { get; init; } = 1.0 / 255;
    /// <summary>Per-channel mean subtracted after rescaling (one value applies to every channel).</summary>
    [JsonPropertyName("image_mean")] public float[] Mean { get; init; } = [0f];
    /// <summary>Per-channel standard deviation divided by after the mean (one value applies to every channel).</summary>
    [JsonPropertyName("image_std")] public float[] Std { get; init; } = [1f];
    /// <summary>Invert intensities (<c>1 - p</c>) before normalizing.</summary>
    [JsonPropertyName("invert")] public bool Invert { get; init; }

    /// <summary>Parses the JSON form.</summary>
    /// <exception cref="JsonException">The text is not valid JSON for this record.</exception>
    public static ImagePreprocessingConfig FromJson(string json)
    {
        var config = JsonSerializer.Deserialize<ImagePreprocessingConfig>(json) ?? throw new JsonException("null preprocessing config");
        config.Validate();
        return config;
    }

    /// <summary>The JSON form (the same field names as <c>preprocessor_config.json</c>).</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>
    /// Normalizes <paramref name="pixels01"/> (CHW, values in 0..1, <paramref name="channels"/> planes) into <paramref name="destination"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length or are not a whole number of planes.</exception>
    public void Normalize(ReadOnlySpan<float> pixels01, Span<float> destination, int channels)
    {
        if (destination.Length != pixels01.Length)
            throw new ArgumentException($"Destination has {destination.Length} elements, the image {pixels01.Length}.", nameof(destination));
        if (channels <= 0 || pixels01.Length % channels != 0)
            throw new ArgumentException($"An image of {pixels01.Length} values is not {channels} equal channel planes.", nameof(channels));
        int plane = pixels01.Length / channels;
        for (int c = 0; c < channels; c++)
        {
            float mean = Mean.Length == 0 ? 0f : Mean[Mean.Length == 1 ? 0 : c];
            float invStd = 1f / (Std.Length == 0 ? 1f : Std[Std.Length == 1 ? 0 : c]);
            var src = pixels01.Slice(c * plane, plane);
            var dst = destination.Slice(c * plane, plane);
            if (Invert)
                for (int i = 0; i < plane; i++) dst[i] = (1f - src[i] - mean) * invStd;
            else
                for (int i = 0; i < plane; i++) dst[i] = (src[i] - mean) * invStd;
        }
    }

    /// <summary>Largest height or width accepted (a bound that keeps one image's buffers far from int overflow).</summary>
    public const int MaxSide = 16384;

    /// <summary>Most channels accepted.</summary>
    public const int MaxChannels = 64;

    /// <summary>Checks sizes (positive, at most <see cref="MaxSide"/> per side and <see cref="MaxChannels"/> channels) and that mean/std fit the channels; throws <see cref="JsonException"/> otherwise.</summary>
    public void Validate()
    {
        if (Height <= 0 || Width <= 0 || Channels <= 0)
            throw new JsonException($"height, width and num_channels must be positive (got {Height}, {Width}, {Channels})");
        if (Height > MaxSide) throw new JsonException($"height {Height} is larger than {MaxSide}");
        if (Width > MaxSide) throw new JsonException($"width {Width} is larger than {MaxSide}");
        if (Channels > MaxChannels) throw new JsonException($"num_channels {Channels} is more than {MaxChannels}");
        if (Mean.Length is not (0 or 1) && Mean.Length != Channels)
            throw new JsonException($"image_mean has {Mean.Length} values for {Channels} channels");
        if (Std.Length is not (0 or 1) && Std.Length != Channels)
            throw new JsonException($"image_std has {Std.Length} values for {Channels} channels");
        if (Std.Any(s => s == 0 || !float.IsFinite(s)))
            throw new JsonException("image_std values must be finite and non-zero");
    }
}
