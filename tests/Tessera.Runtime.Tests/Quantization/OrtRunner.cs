using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>Runs a float and a quantized model on the same random input with ONNX Runtime and compares outputs.</summary>
internal static class OrtRunner
{
    /// <summary>Output of the model's single input/output for <paramref name="input"/> of <paramref name="shape"/>.</summary>
    public static float[] Run(string path, float[] input, int[] shape)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(path, options);
        string name = session.InputMetadata.Keys.Single();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(input, shape))]);
        return results.Single().AsTensor<float>().ToArray();
    }

    public static float[] RandomInput(int[] shape, int seed)
    {
        var rng = new Random(seed);
        var x = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Max |quantized - float| as a fraction of the float output's range (max - min).</summary>
    public static double RelativeMaxError(string floatModel, string quantizedModel, int[] shape, int seed = 7)
    {
        float[] x = RandomInput(shape, seed);
        float[] expected = Run(floatModel, x, shape);
        float[] actual = Run(quantizedModel, x, shape);
        Assert.Equal(expected.Length, actual.Length);
        double maxAbs = 0;
        for (int i = 0; i < expected.Length; i++) maxAbs = Math.Max(maxAbs, Math.Abs(expected[i] - actual[i]));
        double range = expected.Max() - expected.Min();
        Assert.True(range > 0, "the float model's output is constant; the test input is useless");
        return maxAbs / range;
    }
}
