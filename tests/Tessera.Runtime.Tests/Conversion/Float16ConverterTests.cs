using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tessera.Formats.Onnx;
using Tessera.Runtime.Conversion;
using Tessera.Runtime.Quantization;

namespace Tessera.Runtime.Tests.Conversion;

public class Float16ConverterTests(ConvModels models) : IClassFixture<ConvModels>
{
    static readonly int[] Shape = [4, 1, 12, 12];

    static float[] RunHalfIo(string path, float[] x)
    {
        using var session = new InferenceSession(path);
        var input = new DenseTensor<Float16>(x.Select(v => new Float16(BitConverter.HalfToUInt16Bits((Half)v))).ToArray(), Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
        return results.Single().AsTensor<Float16>().Select(h => (float)BitConverter.UInt16BitsToHalf(h.value)).ToArray();
    }

    [Theory]
    [InlineData("cnn", false)]
    [InlineData("cnn", true)]
    [InlineData("resnet", true)]
    public void Model_becomes_checker_valid_float16_of_half_the_size_within_tolerance(string name, bool keepIo)
    {
        Requires.Python("onnx", "numpy");
        string output = models[$"{name}.{keepIo}.fp16.onnx"];
        var report = Float16Converter.Convert(models[$"{name}.onnx"], output, new Float16ConversionOptions { KeepIoTypes = keepIo });

        ConvModels.Check(output); // python-onnx full check (strict type inference)
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(output));
        Assert.All(model.Graph.Initializer, t => Assert.Equal((int)TensorProto.Types.DataType.Float16, t.DataType));
        int ioType = keepIo ? (int)TensorProto.Types.DataType.Float : (int)TensorProto.Types.DataType.Float16;
        Assert.Equal(ioType, model.Graph.Input[0].Type.TensorType.ElemType);
        Assert.Equal(ioType, model.Graph.Output[0].Type.TensorType.ElemType);
        double ratio = (double)report.OutputFileBytes / report.InputFileBytes;
        Assert.InRange(ratio, 0.45, 0.55);

        // Tolerance: float16 keeps 11 significant bits (relative step 2^-11 ~ 0.05%); through a few layers the
        // logits stay within 1% of their range of the float32 model.
        float[] x = Tessera.Runtime.Tests.Quantization.OrtRunner.RandomInput(Shape, seed: 3);
        float[] expected = Tessera.Runtime.Tests.Quantization.OrtRunner.Run(models[$"{name}.onnx"], x, Shape);
        float[] actual = keepIo ? Tessera.Runtime.Tests.Quantization.OrtRunner.Run(output, x, Shape) : RunHalfIo(output, x);
        double range = expected.Max() - expected.Min();
        double maxError = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(maxError <= 0.01 * range, $"max |fp16 - fp32| is {maxError / range:P3} of the output range");
    }

    [Fact]
    public void Blocked_ops_stay_float32_behind_casts()
    {
        Requires.Python("onnx", "numpy");
        string output = models["cnn.block.fp16.onnx"];
        var report = Float16Converter.Convert(models["cnn.onnx"], output,
            new Float16ConversionOptions { KeepIoTypes = true, BlockList = new HashSet<string>(["MaxPool"]) });
        Assert.Equal([("pool1", "MaxPool")], report.BlockedNodes);
        Assert.Equal(4, report.CastNodes); // input->fp16, pool in->fp32, pool out->fp16, output->fp32
        ConvModels.Check(output);
        float[] x = Tessera.Runtime.Tests.Quantization.OrtRunner.RandomInput(Shape, seed: 4);
        float[] expected = Tessera.Runtime.Tests.Quantization.OrtRunner.Run(models["cnn.onnx"], x, Shape);
        float[] actual = Tessera.Runtime.Tests.Quantization.OrtRunner.Run(output, x, Shape);
        double range = expected.Max() - expected.Min();
        Assert.True(expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max() <= 0.01 * range);
    }

    [Fact]
    public void Quantized_or_ort_inputs_are_refused_and_nothing_is_written()
    {
        Requires.Python("onnx", "numpy");
        OrtFormatConverter.Convert(models["cnn.onnx"], models["cnn.h.ort"]);
        Assert.Throws<Tessera.Formats.TesseraFormatException>(() => Float16Converter.Convert(models["cnn.h.ort"], models["h1.onnx"]));
        DynamicQuantizer.Quantize(models["cnn.onnx"], models["cnn.dyn.onnx"]);
        var e = Assert.Throws<QuantizationException>(() => Float16Converter.Convert(models["cnn.dyn.onnx"], models["h2.onnx"]));
        Assert.Contains("already quantized", e.Message);
        Assert.False(File.Exists(models["h1.onnx"]) || File.Exists(models["h2.onnx"]));
    }
}
