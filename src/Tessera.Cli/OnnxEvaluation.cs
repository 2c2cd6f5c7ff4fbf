using Tessera.Data;
using Tessera.Runtime;
using Tessera.Training.Metrics;
using static TorchSharp.torch;

namespace Tessera.Cli;

/// <summary>Classification metrics of an ONNX model on an image dataset, run through <see cref="OnnxModel"/> in batches.</summary>
static class OnnxEvaluation
{
    /// <summary>True when the model carries image preprocessing for 1x28x28 images (Fashion-MNIST's) and <paramref name="dataDir"/> (or the default) holds the dataset.</summary>
    public static bool CanEvaluateOnFashionMnist(OnnxModel model, string? dataDir) =>
        model.Preprocessing is { Channels: 1, Height: FashionMnist.ImageSize, Width: FashionMnist.ImageSize }
        && Directory.Exists(dataDir ?? FashionMnist.DefaultRoot);

    /// <summary>Runs <paramref name="data"/> (images in [0, 1], [N, C, H, W]) through the model's preprocessing and graph, <paramref name="batchSize"/> images a call.</summary>
    public static ClassificationReport Evaluate(OnnxModel model, TensorDataset data, int batchSize = 500)
    {
        var inputs = data.Inputs.contiguous();
        var shape = inputs.shape;
        int channels = (int)shape[1], height = (int)shape[2], width = (int)shape[3];
        var pixels = inputs.data<float>().ToArray();
        var targets = data.Targets.data<long>().ToArray();
        int size = channels * height * width;
        int classes = model.Labels.Count > 0 ? model.Labels.Count : (int)targets.Max() + 1;
        var accumulator = new ConfusionMatrixAccumulator(classes);
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, data.Count - start);
            var probabilities = model.PredictProbabilities(pixels.AsSpan(start * size, n * size), n, height, width, channels);
            var predicted = probabilities.Select(ArgMax).ToArray();
            using var scope = NewDisposeScope();
            accumulator.Update(tensor(predicted), tensor(targets.AsSpan(start, n).ToArray()));
        }
        return accumulator.Compute();
    }

    static long ArgMax(float[] row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
