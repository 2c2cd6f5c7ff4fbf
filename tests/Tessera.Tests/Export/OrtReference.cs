using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Export;

/// <summary>Runs an exported file in ONNX Runtime directly (not through the exporter's verifier) and compares with TorchSharp.</summary>
internal static class OrtReference
{
    /// <summary>Runs <paramref name="input"/> through the model and returns the first output's shape and values.</summary>
    public static (long[] Shape, float[] Values) Run(string path, Tensor input, string inputName = "input")
    {
        using var session = new InferenceSession(path);
        using var cpu = input.cpu().contiguous();
        using var value = cpu.dtype == ScalarType.Int64
            ? OrtValue.CreateTensorValueFromMemory(cpu.data<long>().ToArray(), cpu.shape)
            : OrtValue.CreateTensorValueFromMemory(cpu.data<float>().ToArray(), cpu.shape);
        using var results = session.Run(new RunOptions(), [inputName], [value], session.OutputNames);
        return (results[0].GetTensorTypeAndShape().Shape, results[0].GetTensorDataAsSpan<float>().ToArray());
    }

    /// <summary>Max |ORT − TorchSharp| for <paramref name="input"/>, asserting equal shapes.</summary>
    public static double MaxAbsDiff(string path, nn.Module<Tensor, Tensor> module, Tensor input)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        module.eval();
        var expected = module.call(input).contiguous();
        var (shape, values) = Run(path, input);
        Assert.Equal(expected.shape, shape);
        var want = expected.data<float>().ToArray();
        return want.Zip(values, (a, b) => (double)Math.Abs(a - b)).DefaultIfEmpty(0).Max();
    }
}
