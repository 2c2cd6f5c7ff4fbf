using System.Text;
using Microsoft.ML.OnnxRuntime;
using Tessera.Formats;
using Tessera.Runtime.Conversion;
using Tessera.Runtime.Tests.Quantization;

namespace Tessera.Runtime.Tests.Conversion;

public class OrtFormatConverterTests(ConvModels models) : IClassFixture<ConvModels>
{
    [Theory]
    [InlineData("cnn")]
    [InlineData("resnet")]
    public void Ort_file_loads_as_ORT_format_and_gives_the_onnx_outputs(string name)
    {
        Requires.Python("onnx", "numpy");
        string ort = models[$"{name}.ort"];
        OrtFormatConverter.Convert(models[$"{name}.onnx"], ort);

        Assert.Equal("ORTM", Encoding.ASCII.GetString(File.ReadAllBytes(ort), 4, 4)); // flatbuffer file identifier
        float[] x = OrtRunner.RandomInput([3, 1, 12, 12], seed: 5);
        float[] expected = OrtRunner.Run(models[$"{name}.onnx"], x, [3, 1, 12, 12]);
        using var session = OrtFormatConverter.OpenOrt(ort, new OnnxSessionOptions { IntraOpThreads = 1 });
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, [3, 1, 12, 12]))]);
        float[] actual = results.Single().AsTensor<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5, $"output {i}: {actual[i]} vs {expected[i]} from the .onnx");
    }

    [Theory]
    [InlineData("cnn")]
    [InlineData("resnet")]
    public void Config_lists_exactly_the_operators_of_the_graph_optimized_at_extended(string name)
    {
        Requires.Python("onnx", "numpy");
        string ort = models[$"{name}.cfg.ort"];
        var operators = OrtFormatConverter.Convert(models[$"{name}.onnx"], ort);

        // The reference: ONNX Runtime's optimized graph at ORT_ENABLE_EXTENDED saved as ONNX by this test, read by python-onnx.
        string optimized = models[$"{name}.extended.onnx"];
        using (var so = new SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized })
        using (new InferenceSession(models[$"{name}.onnx"], so)) { }
        var expected = ConvModels.Operators(optimized);

        var listed = RequiredOperators.Parse(operators.ToString()).Operators
            .SelectMany(kv => kv.Value.Select(op => $"{kv.Key.Domain};{kv.Key.Opset};{op}"));
        Assert.Equal(expected, new SortedSet<string>(listed, StringComparer.Ordinal));
        Assert.Contains("com.microsoft;1;FusedConv", expected); // the Extended fusions are there, so the comparison means something
        // And the .ort file itself names every listed operator (flatbuffer strings are stored as plain bytes).
        string bytes = Encoding.Latin1.GetString(File.ReadAllBytes(ort));
        foreach (string op in operators.Operators.Values.SelectMany(v => v)) Assert.Contains(op, bytes);
    }

    [Fact]
    public void Config_of_several_models_is_the_union_and_round_trips()
    {
        Requires.Python("onnx", "numpy");
        var cnn = OrtFormatConverter.Convert(models["cnn.onnx"], models["m1.ort"]);
        var resnet = OrtFormatConverter.Convert(models["resnet.onnx"], models["m2.ort"]);
        var merged = RequiredOperators.Merge([cnn, resnet]);
        string path = models[RequiredOperators.FileName];
        merged.Save(path);

        var read = RequiredOperators.Parse(File.ReadAllText(path), path);
        Assert.Equal([models["m1.ort"], models["m2.ort"]], read.Models);
        foreach (var key in cnn.Operators.Keys.Union(resnet.Operators.Keys))
        {
            var union = new SortedSet<string>(StringComparer.Ordinal);
            if (cnn.Operators.TryGetValue(key, out var a)) union.UnionWith(a);
            if (resnet.Operators.TryGetValue(key, out var b)) union.UnionWith(b);
            Assert.Equal(union, read.Operators[key]);
        }
        Assert.Equal(cnn.Operators.Keys.Union(resnet.Operators.Keys).Count(), read.Operators.Count);
        Assert.Contains(File.ReadAllLines(path), l => l.StartsWith("ai.onnx;17;", StringComparison.Ordinal) && l.Contains("MaxPool") && l.Contains("GlobalAveragePool"));
    }

    [Fact]
    public void An_ort_file_given_as_input_is_refused_and_nothing_is_written()
    {
        Requires.Python("onnx", "numpy");
        OrtFormatConverter.Convert(models["cnn.onnx"], models["again.ort"]);
        var e = Assert.Throws<TesseraFormatException>(() => OrtFormatConverter.Convert(models["again.ort"], models["twice.ort"]));
        Assert.Contains("ORT-format", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(models["twice.ort"]));
    }
}
