using System.Collections.Concurrent;

using Tessera.Formats;

namespace Tessera.Runtime;

public sealed partial class OnnxModel
{
    /// <summary>
    /// Class probabilities for one image. <paramref name="pixels01"/> is channel-first (CHW) with values in 0..1;
    /// it is resized (bilinear) when its size differs from what the model takes, normalized with
    /// <see cref="Preprocessing"/> (mean/std, invert), run, and the first output is softmaxed unless it already is a
    /// probability distribution. Reuses pooled pinned buffers, so repeated calls allocate little more than the result.
    /// </summary>
    /// <exception cref="ArgumentException">The pixel count is not <c>channels * height * width</c>, or the channels differ from the model's.</exception>
    /// <exception cref="OnnxModelException">The model does not take one float image input or return float scores.</exception>
    public float[] PredictProbabilities(float[] pixels01, int height, int width, int channels)
    {
        ArgumentNullException.ThrowIfNull(pixels01);
        return PredictProbabilities(pixels01.AsSpan(), 1, height, width, channels)[0];
    }

    /// <summary>
    /// Class probabilities for <paramref name="batch"/> images stored one after another (each CHW, values in 0..1);
    /// see <see cref="PredictProbabilities(float[], int, int, int)"/>. Row <c>i</c> of the result belongs to image <c>i</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The pixel count is not <c>batch * channels * height * width</c>, or the channels differ from the model's.</exception>
    /// <exception cref="OnnxModelException">The model does not take one float image input or return float scores.</exception>
    public float[][] PredictProbabilities(ReadOnlySpan<float> pixels01, int batch, int height, int width, int channels)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (batch <= 0 || height <= 0 || width <= 0 || channels <= 0)
            throw new ArgumentException($"batch, height, width and channels must be positive (got {batch}, {height}, {width}, {channels}).");
        int given = channels * height * width;
        if (pixels01.Length != (long)batch * given)
            throw new ArgumentException($"{pixels01.Length} pixel values are not {batch} image(s) of {channels}x{height}x{width}.", nameof(pixels01));
        var layout = ImageLayout(height, width, channels);
        if (channels != layout.Channels)
            throw new ArgumentException($"The image has {channels} channel(s) but the model takes {layout.Channels}: {InputValidator.Describe(Inputs)}.", nameof(channels));

        bool resize = height != layout.Height || width != layout.Width;
        int itemSize = layout.Channels * layout.Height * layout.Width;
        float[]? resized = resize ? new float[itemSize] : null;
        var results = new float[batch][];
        int chunk = layout.FixedBatch ?? batch;
        for (int start = 0; start < batch; start += chunk)
        {
            int n = Math.Min(chunk, batch - start);
            var buffers = RentImageBuffers(chunk, layout);
            try
            {
                var input = buffers.FirstInputAsFloats();
                for (int i = 0; i < n; i++)
                {
                    var image = pixels01.Slice((start + i) * given, given);
                    if (resized is not null)
                    {
                        ImageResize.Bilinear(image, channels, height, width, resized, layout.Height, layout.Width);
                        image = resized;
                    }
                    var destination = input.Slice(i * itemSize, itemSize);
                    if (Preprocessing is { } pre) pre.Normalize(image, destination, layout.Channels);
                    else image.CopyTo(destination);
                }
                input[(n * itemSize)..].Clear(); // padding rows of a fixed-batch model
                buffers.Run();
                var scores = buffers.FirstOutputAsFloats(out _);
                int classes = scores.Length / chunk;
                for (int i = 0; i < n; i++)
                {
                    var row = scores.Slice(i * classes, classes).ToArray();
                    Probabilities.ToProbabilities(row);
                    results[start + i] = row;
                }
            }
            finally
            {
                if (disposed) buffers.Dispose(); // the model went away meanwhile: nobody will drain the pool again
                else imageBuffers[chunk].Add(buffers);
            }
        }
        return results;
    }

    /// <summary>
    /// Class probabilities for <paramref name="batch"/> images of raw 0..255 bytes (each CHW), scaled by
    /// <see cref="ImagePreprocessingConfig.RescaleFactor"/> (1/255 without a config) and then handled like
    /// <see cref="PredictProbabilities(ReadOnlySpan{float}, int, int, int, int)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The byte count is not <c>batch * channels * height * width</c>, or the channels differ from the model's.</exception>
    /// <exception cref="OnnxModelException">The model does not take one float image input or return float scores.</exception>
    public float[][] PredictProbabilities(ReadOnlySpan<byte> pixels, int batch, int height, int width, int channels)
    {
        float scale = (float)(Preprocessing?.RescaleFactor ?? 1.0 / 255);
        var floats = new float[pixels.Length];
        for (int i = 0; i < floats.Length; i++) floats[i] = pixels[i] * scale;
        return PredictProbabilities(floats, batch, height, width, channels);
    }

    /// <summary>
    /// The <paramref name="topK"/> most likely labels for one image (CHW, values in 0..1, of the size the model takes:
    /// <see cref="Preprocessing"/>'s or the input's fixed dims), most likely first. Labels come from <see cref="Labels"/>,
    /// or are the class index as text when the model has none.
    /// </summary>
    /// <exception cref="ArgumentException">The image size is wrong or <paramref name="topK"/> is not positive.</exception>
    /// <exception cref="OnnxModelException">The model's image size is unknown (no preprocessing and dynamic dims).</exception>
    public IReadOnlyList<(string Label, float Probability)> Classify(ReadOnlySpan<float> image, int topK) =>
        ClassifyBatch(image, 1, topK)[0];

    /// <summary>Like <see cref="Classify"/> for <paramref name="batch"/> images stored one after another.</summary>
    /// <exception cref="ArgumentException">The image size is wrong or <paramref name="topK"/> is not positive.</exception>
    /// <exception cref="OnnxModelException">The model's image size is unknown (no preprocessing and dynamic dims).</exception>
    public IReadOnlyList<IReadOnlyList<(string Label, float Probability)>> ClassifyBatch(ReadOnlySpan<float> images, int batch, int topK)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        var layout = ImageLayout(null, null, null);
        int size = layout.Channels * layout.Height * layout.Width;
        if (images.Length != (long)batch * size)
            throw new ArgumentException($"{images.Length} values are not {batch} image(s) of {layout.Channels}x{layout.Height}x{layout.Width} as the model takes.", nameof(images));
        var probabilities = PredictProbabilities(images, batch, layout.Height, layout.Width, layout.Channels);
        return probabilities.Select(p => (IReadOnlyList<(string, float)>)Probabilities.TopK(p, topK)
            .Select(t => (t.Index < Labels.Count ? Labels[t.Index] : t.Index.ToString(), t.Value)).ToArray()).ToArray();
    }

    internal readonly record struct ImageInputLayout(int Rank, int Channels, int Height, int Width, int? FixedBatch);

    /// <summary>The image size the model takes: its fixed dims, else the preprocessing config, else the given size.</summary>
    ImageInputLayout ImageLayout(int? height, int? width, int? channels)
    {
        if (Inputs.Count != 1 || Inputs[0].DataType != TensorDataType.Float32 || Inputs[0].Rank is < 2 or > 4)
            throw new OnnxModelException(Path, $"image prediction needs a model with one float input of rank 2 to 4 ([batch, features], [batch, h, w] or [batch, c, h, w]); the model has: {InputValidator.Describe(Inputs)}.");
        if (Outputs.Count == 0 || Outputs[0].DataType != TensorDataType.Float32)
            throw new OnnxModelException(Path, $"image prediction needs float scores as the first output; the model has: {string.Join(", ", Outputs)}.");
        var spec = Inputs[0];
        var pre = Preprocessing;
        int? Dim(int axis) => spec.Dims[axis] >= 0 ? (int)spec.Dims[axis] : null;
        int? fixedBatch = Dim(0);
        int c, h, w;
        switch (spec.Rank)
        {
            case 4:
                c = Dim(1) ?? pre?.Channels ?? channels ?? throw UnknownSize();
                h = Dim(2) ?? pre?.Height ?? height ?? throw UnknownSize();
                w = Dim(3) ?? pre?.Width ?? width ?? throw UnknownSize();
                break;
            case 3:
                c = 1;
                h = Dim(1) ?? pre?.Height ?? height ?? throw UnknownSize();
                w = Dim(2) ?? pre?.Width ?? width ?? throw UnknownSize();
                break;
            default:
                int? features = Dim(1);
                c = pre?.Channels ?? channels ?? (features is null ? throw UnknownSize() : 1);
                h = pre?.Height ?? height ?? (features is null ? throw UnknownSize() : 1);
                w = pre?.Width ?? width ?? features!.Value;
                if (features is { } f && f != c * h * w)
                    throw new OnnxModelException(Path, $"input {spec} takes {f} features, not a {c}x{h}x{w} image.");
                break;
        }
        return new ImageInputLayout(spec.Rank, c, h, w, fixedBatch);
    }

    OnnxModelException UnknownSize() =>
        new(Path, $"the image size the model takes is unknown (dynamic input dims and no preprocessing config): {InputValidator.Describe(Inputs)}.");

    InferenceBuffers RentImageBuffers(int batch, ImageInputLayout layout)
    {
        var bag = imageBuffers.GetOrAdd(batch, static _ => new ConcurrentBag<InferenceBuffers>());
        if (bag.TryTake(out var buffers)) return buffers;
        long[] shape = layout.Rank switch
        {
            4 => [batch, layout.Channels, layout.Height, layout.Width],
            3 => [batch, layout.Height, layout.Width],
            _ => [batch, (long)layout.Channels * layout.Height * layout.Width],
        };
        return new InferenceBuffers(session, runOptions, Path, Inputs, Outputs, [shape]);
    }
}
