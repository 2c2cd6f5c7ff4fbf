using SkiaSharp;
using Tessera.Data;
using Tessera.Data.Transforms;
using Tessera.Models;
using Tessera.Training.Metrics;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tasks;

/// <summary>Runs an image classifier from a model folder: preprocessing from the folder, softmax probabilities out.</summary>
public sealed class ImagePredictor : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;

    private ImagePredictor(ModelFolder folder, nn.Module<Tensor, Tensor> model)
    {
        Folder = folder;
        this.model = model;
    }

    /// <summary>The model folder.</summary>
    public ModelFolder Folder { get; }

    /// <summary>Loads the model folder at <paramref name="dir"/> for inference on the CPU.</summary>
    public static ImagePredictor Load(string dir) => Load(ModelFolder.Open(dir));

    /// <summary>Loads <paramref name="folder"/>'s weights for inference on the CPU.</summary>
    public static ImagePredictor Load(ModelFolder folder) => new(folder, folder.LoadModel());

    /// <summary>Class probabilities for a batch of images already scaled to [0, 1], shape [N, C, H, W]; returns [N, classes].</summary>
    public float[,] PredictProbabilities(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var pre = Folder.Preprocessing;
        var x = new Normalize(pre.Mean, pre.Std).Apply(images, new SeededRandom(0));
        var probs = nn.functional.softmax(model.call(x), 1).cpu();
        int n = (int)probs.shape[0], k = (int)probs.shape[1];
        var flat = probs.data<float>().ToArray();
        var result = new float[n, k];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(float));
        return result;
    }

    /// <summary>The <paramref name="topK"/> most likely classes for the image file at <paramref name="imagePath"/> (PNG, JPEG, ...).</summary>
    public IReadOnlyList<(string Label, float Probability)> Predict(string imagePath, int topK = 3)
    {
        using var scope = NewDisposeScope();
        var probs = PredictProbabilities(LoadImage(imagePath));
        var row = Enumerable.Range(0, probs.GetLength(1)).Select(i => (Index: i, P: probs[0, i])).OrderByDescending(p => p.P).Take(topK);
        return row.Select(p => (p.Index < Folder.Labels.Count ? Folder.Labels[p.Index] : p.Index.ToString(), p.P)).ToList();
    }

    /// <summary>Evaluates on a dataset of images scaled to [0, 1] (its own transform is ignored).</summary>
    public ClassificationReport Evaluate(TensorDataset data, int batchSize = 1000)
    {
        int classes = Folder.Labels.Count > 0 ? Folder.Labels.Count : (int)data.Targets.max().ToInt64() + 1;
        var acc = new ConfusionMatrixAccumulator(classes);
        var pre = Folder.Preprocessing;
        var normalize = new Normalize(pre.Mean, pre.Std);
        using var noGrad = no_grad();
        for (int start = 0; start < data.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, data.Count - start);
            var x = normalize.Apply(data.Inputs.narrow(0, start, n), new SeededRandom(0));
            acc.Update(model.call(x), data.Targets.narrow(0, start, n));
        }
        return acc.Compute();
    }

    /// <summary>Reads an image file into a [1, C, H, W] float tensor in [0, 1], converted and resized as the folder's preprocessing says.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="Formats.TesseraFormatException">The file is not a readable image.</exception>
    public Tensor LoadImage(string path)
    {
        var pre = Folder.Preprocessing;
        return tensor(ReadPixels(path, pre), [1, pre.Channels, pre.Height, pre.Width]);
    }

    /// <summary>
    /// Reads an image file as CHW floats in [0, 1], converted to the channels and resized to the size
    /// <paramref name="pre"/> gives (the input an image classifier takes, in TorchSharp or ONNX Runtime).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="Formats.TesseraFormatException">The file is not a readable image.</exception>
    public static float[] ReadPixels(string path, Formats.ImagePreprocessingConfig pre)
    {
        ArgumentNullException.ThrowIfNull(pre);
        if (!File.Exists(path)) throw new FileNotFoundException($"image not found: {path}", path);
        using var decoded = SKBitmap.Decode(path) ?? throw new Formats.TesseraFormatException(path, "not a readable image (expected PNG, JPEG, GIF, BMP or WebP)");
        var info = new SKImageInfo(pre.Width, pre.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var resized = decoded.Resize(info, new SKSamplingOptions(SKFilterMode.Linear)) ?? throw new Formats.TesseraFormatException(path, "could not resize image");
        var pixels = new float[pre.Channels * pre.Height * pre.Width];
        int plane = pre.Height * pre.Width;
        for (int y = 0; y < pre.Height; y++)
            for (int x = 0; x < pre.Width; x++)
            {
                var c = resized.GetPixel(x, y);
                if (pre.Channels == 1)
                {
                    float gray = (0.299f * c.Red + 0.587f * c.Green + 0.114f * c.Blue) * (float)pre.RescaleFactor;
                    pixels[y * pre.Width + x] = pre.Invert ? 1 - gray : gray;
                }
                else
                {
                    pixels[y * pre.Width + x] = c.Red * (float)pre.RescaleFactor;
                    pixels[plane + y * pre.Width + x] = c.Green * (float)pre.RescaleFactor;
                    pixels[2 * plane + y * pre.Width + x] = c.Blue * (float)pre.RescaleFactor;
                }
            }
        return pixels;
    }

    /// <inheritdoc />
    public void Dispose() => model.Dispose();
}
