using Tessera.Data;
using Tessera.Runtime;

namespace Tessera.Cli;

/// <summary>Calibration batches for static quantization, preprocessed the way the model's own preprocessing says.</summary>
static class Calibration
{
    const int BatchSize = 64;

    /// <summary>
    /// The first <paramref name="count"/> Fashion-MNIST training images, normalized with the model's preprocessing
    /// (none when it has none), as [batch, 1, 28, 28] float batches; the quantizer checks they fit the model's input.
    /// </summary>
    public static IReadOnlyList<NamedTensor> FashionMnist(string modelPath, int count, string? dataDir)
    {
        using var model = OnnxModel.Load(modelPath);
        using var data = Tessera.Data.FashionMnist.Load(train: true, dataDir, limit: count);
        float[] pixels = data.Inputs.contiguous().data<float>().ToArray();
        const int size = Tessera.Data.FashionMnist.ImageSize * Tessera.Data.FashionMnist.ImageSize;
        var batches = new List<NamedTensor>();
        for (int start = 0; start < data.Count; start += BatchSize)
        {
            int n = Math.Min(BatchSize, data.Count - start);
            var batch = new float[n * size];
            for (int i = 0; i < n; i++)
            {
                var image = pixels.AsSpan((start + i) * size, size);
                var destination = batch.AsSpan(i * size, size);
                if (model.Preprocessing is { } pre) pre.Normalize(image, destination, 1);
                else image.CopyTo(destination);
            }
            batches.Add(new NamedTensor(batch, n, 1, Tessera.Data.FashionMnist.ImageSize, Tessera.Data.FashionMnist.ImageSize));
        }
        return batches;
    }
}
