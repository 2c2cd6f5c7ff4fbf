using Tessera.Data;
using Tessera.Runtime;
using Tessera.Runtime.Conversion;
using Tessera.Runtime.Quantization;

namespace Tessera.Cli;

/// <summary>The converted copies of a float ONNX model that <c>tessera bench</c> compares, and their accuracy.</summary>
static class BenchVariants
{
    /// <summary>
    /// fp16 (float32 inputs and outputs, so every variant takes the same buffers), static int8 (calibrated on 512 Fashion-MNIST training images, for image models that take them) and the
    /// ORT-format file, written into <paramref name="folder"/>; a variant that cannot be made comes back with the reason.
    /// </summary>
    public static IEnumerable<(string Name, string? File, string? Error)> Create(string onnxPath, OnnxModel fp32, string folder)
    {
        yield return Make("ort-fp16", Path.Combine(folder, "model.fp16.onnx"), f => Float16Converter.Convert(onnxPath, f, new Float16ConversionOptions { KeepIoTypes = true }));
        yield return OnnxEvaluation.CanEvaluateOnFashionMnist(fp32, null)
            ? Make("ort-int8-qdq", Path.Combine(folder, "model.static.onnx"), f => StaticQuantizer.Quantize(onnxPath, f, Calibration.FashionMnist(onnxPath, 512, null)))
            : ("ort-int8-qdq", null, "static int8 calibrates on Fashion-MNIST; this model does not take its 1x28x28 images, or the dataset is not installed");
        yield return Make("ort-format", Path.Combine(folder, "model.ort"), f => OrtFormatConverter.Convert(onnxPath, f));
    }

    static (string, string?, string?) Make(string name, string file, Action<string> write)
    {
        try
        {
            write(file);
            return (name, file, null);
        }
        catch (Exception e) when (e is TesseraException or NotSupportedException)
        {
            return (name, null, e.Message);
        }
    }

    /// <summary>
    /// Top-1 accuracy of <paramref name="model"/> on the Fashion-MNIST test set, with the float model's preprocessing
    /// (an .ort file need not carry the metadata), 500 images a call.
    /// </summary>
    public static double Accuracy(OnnxModel model, OnnxModel fp32)
    {
        using var test = FashionMnist.Load(train: false);
        const int size = FashionMnist.ImageSize * FashionMnist.ImageSize, batch = 500;
        float[] pixels = test.Inputs.contiguous().data<float>().ToArray();
        long[] labels = test.Targets.data<long>().ToArray();
        var pre = fp32.Preprocessing!;
        string input = model.Inputs[0].Name;
        long correct = 0;
        for (int start = 0; start < test.Count; start += batch)
        {
            int n = Math.Min(batch, test.Count - start);
            var x = new float[n * size];
            for (int i = 0; i < n; i++) pre.Normalize(pixels.AsSpan((start + i) * size, size), x.AsSpan(i * size, size), 1);
            var scores = (float[])model.Run(new Dictionary<string, NamedTensor> { [input] = new(x, n, 1, FashionMnist.ImageSize, FashionMnist.ImageSize) }).Values.First().Data;
            int classes = scores.Length / n;
            for (int i = 0; i < n; i++)
            {
                var row = scores.AsSpan(i * classes, classes);
                int best = 0;
                for (int c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
                if (best == labels[start + i]) correct++;
            }
        }
        return (double)correct / test.Count;
    }
}
