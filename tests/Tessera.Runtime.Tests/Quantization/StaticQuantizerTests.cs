using Microsoft.ML.OnnxRuntime;
using Tessera.Formats;
using Tessera.Runtime.Conversion;
using Tessera.Runtime.Quantization;
using Tessera.Runtime.Tests.Conversion;

namespace Tessera.Runtime.Tests.Quantization;

public class StaticQuantizerTests(ConvModels models) : IClassFixture<ConvModels>
{
    static readonly int[] Shape = [16, 1, 12, 12];

    // Calibration images: 4 batches of 16 with values in [-1, 1], like normalized pixels.
    static IReadOnlyList<NamedTensor> Calibration(int batches = 4, int size = 12) =>
        [.. Enumerable.Range(0, batches).Select(b => new NamedTensor(OrtRunner.RandomInput([16, 1, size, size], seed: 100 + b), 16, 1, size, size))];

    // The op types ONNX Runtime actually runs: the graph it optimized at ORT_ENABLE_EXTENDED, saved and read back.
    List<string> OptimizedOpTypes(string path)
    {
        string optimized = path + ".extended.onnx";
        using (var so = new SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized })
        using (new InferenceSession(path, so)) { }
        return [.. ConvModels.Operators(optimized).Select(l => l.Split(';')[2])];
    }

    [Theory]
    [InlineData("cnn", new[] { "conv1", "conv2", "fc" })]
    [InlineData("resnet", new[] { "stem", "block.conv1", "block.conv2", "fc" })]
    public void Conv_net_becomes_checker_valid_QDQ_that_ORT_fuses_and_stays_close_to_float(string name, string[] nodes)
    {
        Requires.Python("onnx", "numpy");
        string output = models[$"{name}.static.onnx"];
        var report = StaticQuantizer.Quantize(models[$"{name}.onnx"], output, Calibration());

        Assert.Equal(nodes, report.QuantizedNodes);
        Assert.Empty(report.SkippedNodes);
        Assert.Equal(64, report.CalibrationSamples);
        string ops = ConvModels.Check(output); // onnx.checker full check, by python-onnx
        Assert.Contains("QuantizeLinear", ops);
        Assert.DoesNotContain("Relu", ops); // folded into the uint8 output quantization
        Assert.DoesNotContain("BatchNormalization", ops); // folded into the conv before quantizing (cnn)
        var fused = OptimizedOpTypes(output);
        Assert.Contains("QLinearConv", fused);
        Assert.DoesNotContain("Conv", fused); // no float conv left
        if (name == "resnet")
        {
            Assert.Contains("QLinearAdd", fused);
            Assert.Contains("QLinearGlobalAveragePool", fused); // the pool runs on uint8: no DequantizeLinear/QuantizeLinear around it
            Assert.DoesNotContain("GlobalAveragePool", fused);
        }
        Assert.DoesNotContain("DequantizeLinear", fused); // every Q/DQ pair fused away; the last QGemm writes float

        // int8 weights and uint8 activations keep the logits within 5% of their range on inputs unlike the calibration set.
        double error = OrtRunner.RelativeMaxError(models[$"{name}.onnx"], output, Shape, seed: 9);
        Assert.True(error <= 0.05, $"max abs error is {error:P2} of the output range");
        Assert.Equal(nodes, report.LayerErrors.Select(e => e.Node));
        Assert.All(report.LayerErrors, e => Assert.True(e.RelativeError is > 0 and < 0.1, $"{e.Node}: relative error {e.RelativeError}"));
    }

    [Fact]
    public void Dequantized_weights_and_biases_take_over_the_float_names_and_no_float_copy_stays()
    {
        Requires.Python("onnx", "numpy");
        string output = models["cnn.names.onnx"];
        StaticQuantizer.Quantize(models["cnn.onnx"], output, Calibration());
        var model = Tessera.Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(output));
        var dequantized = model.Graph.Node.Where(n => n.OpType == "DequantizeLinear").Select(n => n.Output[0]).ToHashSet();
        // c1's bias is gone: BatchNorm folded into the first conv by ONNX Runtime's basic optimization names it anew.
        foreach (string name in new[] { "c2.w", "c2.bias", "fc.w", "fc.bias" }) Assert.Contains(name, dequantized);
        Assert.DoesNotContain(model.Graph.Initializer, t => t.DataType == (int)Tessera.Formats.Onnx.TensorProto.Types.DataType.Float && t.Dims.Count > 1);
        var floatNames = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        Assert.Empty(dequantized.Intersect(floatNames)); // no initializer shadows a node output
        ConvModels.Check(output);
    }

    [Theory]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Entropy_and_percentile_calibration_give_valid_close_models(CalibrationMethod method)
    {
        Requires.Python("onnx", "numpy");
        string output = models[$"cnn.{method}.onnx"];
        var report = StaticQuantizer.Quantize(models["cnn.onnx"], output, Calibration(), new StaticQuantizationOptions { Method = method });
        Assert.Equal(method, report.Method);
        ConvModels.Check(output);
        // Both clip rare large activations on purpose, which costs most at the largest outputs; measured 9.6% (entropy)
        // on these random inputs, so the bound is 15% of the range.
        double error = OrtRunner.RelativeMaxError(models["cnn.onnx"], output, Shape, seed: 9);
        Assert.True(error <= 0.15, $"max abs error is {error:P2} of the output range");
    }

    [Fact]
    public void Excluded_nodes_stay_float()
    {
        Requires.Python("onnx", "numpy");
        string output = models["cnn.skip.onnx"];
        var report = StaticQuantizer.Quantize(models["cnn.onnx"], output, Calibration(), new StaticQuantizationOptions { Exclude = ["fc", "conv1"] });
        Assert.Equal(["conv2"], report.QuantizedNodes);
        Assert.Equal(["conv1: excluded", "fc: excluded"], report.SkippedNodes);
        var fused = OptimizedOpTypes(output);
        Assert.Contains("QLinearConv", fused);
        Assert.DoesNotContain("QGemm", fused);
        Assert.True(OrtRunner.RelativeMaxError(models["cnn.onnx"], output, Shape) <= 0.05);
    }

    [Fact]
    public void Model_without_conv_or_matmul_is_refused_and_nothing_is_written()
    {
        Requires.Python("onnx", "numpy");
        var e = Assert.Throws<QuantizationException>(() => StaticQuantizer.Quantize(models["no_conv.onnx"], models["no_conv.static.onnx"], Calibration()));
        Assert.Contains("Conv, Gemm or MatMul", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(models["no_conv.static.onnx"]));
    }

    [Fact]
    public void Calibration_data_of_the_wrong_shape_is_refused_and_nothing_is_written()
    {
        Requires.Python("onnx", "numpy");
        var e = Assert.Throws<QuantizationException>(() => StaticQuantizer.Quantize(models["cnn.onnx"], models["cnn.badcal.onnx"], Calibration(size: 28)));
        Assert.Contains("calibration batch 0 is Float32 [16, 1, 28, 28]; input 'input' takes float [batch, 1, 12, 12]", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(models["cnn.badcal.onnx"]));
    }

    [Fact]
    public void An_ort_file_is_refused()
    {
        Requires.Python("onnx", "numpy");
        OrtFormatConverter.Convert(models["cnn.onnx"], models["cnn.q.ort"]);
        var e = Assert.Throws<TesseraFormatException>(() => StaticQuantizer.Quantize(models["cnn.q.ort"], models["from_ort.onnx"], Calibration()));
        Assert.Contains("ORT-format", e.Message);
        Assert.False(File.Exists(models["from_ort.onnx"]));
    }

    [Fact]
    public void Uint8_parameters_map_the_range_ends_to_0_and_255()
    {
        var (scale, zp) = StaticQuantizer.Uint8Parameters(-1f, 3f);
        Assert.Equal(4f / 255, scale, 6);
        Assert.Equal(64, zp); // round(1 / (4/255)) = round(63.75)
        Assert.Equal((6f / 255, (byte)0), StaticQuantizer.Uint8Parameters(0f, 6f)); // after a Relu: zero point 0 clips like Relu
    }

    [Fact]
    public void Percentile_and_entropy_thresholds_clip_a_rare_outlier()
    {
        var histogram = new long[ActivationRanges.Bins];
        for (int i = 0; i < 200; i++) histogram[i] = 1000; // the bulk in the first 10% of the range
        histogram[^1] = 1; // one outlier at the maximum
        Assert.Equal(200, ActivationRanges.PercentileThreshold(histogram, 99.99));
        Assert.Equal(ActivationRanges.Bins, ActivationRanges.PercentileThreshold(histogram, 100));

        // A decaying bulk (like |x| of a normal) and one outlier: numpy replaying the same KL search picks bin 432.
        for (int i = 0; i < histogram.Length; i++) histogram[i] = (long)Math.Floor(1e6 * Math.Exp(-i / 40.0));
        histogram[^1] += 1;
        Assert.Equal(432, ActivationRanges.EntropyThreshold(histogram));
        // A flat bulk quantizes without loss at full range, so entropy keeps everything.
        Array.Clear(histogram);
        for (int i = 0; i < 200; i++) histogram[i] = 1000;
        histogram[^1] = 1;
        Assert.Equal(ActivationRanges.Bins, ActivationRanges.EntropyThreshold(histogram));
    }
}
