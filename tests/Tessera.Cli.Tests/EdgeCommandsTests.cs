using Google.Protobuf;
using Tessera.Formats.Onnx;
using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary>convert (--to ort, --to fp16) and quantize --static on tiny models made here, and their one-line errors.</summary>
public class EdgeCommandsTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-edge-");
    public void Dispose() => temp.Dispose();

    private string File(string name) => Path.Combine(temp.Path, name);

    // input [batch, 1, size, size] -> Conv 1->16 3x3 -> Relu -> Flatten -> (logits); or Add -> Relu without a Conv.
    private string Model(string name, bool conv, int size = 12)
    {
        var rng = new Random(1);
        TensorProto Floats(string n, params long[] dims)
        {
            var values = new float[dims.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() - 0.5);
            var t = new TensorProto { Name = n, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
            t.Dims.Add(dims);
            return t;
        }
        ValueInfoProto Value(string n, params object[] dims)
        {
            var shape = new TensorShapeProto();
            foreach (var d in dims) shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = (int)d });
            return new ValueInfoProto { Name = n, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
        }
        var graph = new GraphProto { Name = name, Input = { Value("input", "batch", 1, size, size) }, Output = { new ValueInfoProto { Name = "logits", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } } } };
        if (conv)
        {
            graph.Node.Add(new NodeProto { OpType = "Conv", Name = "conv", Input = { "input", "w", "b" }, Output = { "c" }, Attribute = { new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1, 1, 1, 1 } } } });
            graph.Initializer.Add(Floats("w", 16, 1, 3, 3));
            graph.Initializer.Add(Floats("b", 16));
        }
        else
        {
            graph.Node.Add(new NodeProto { OpType = "Add", Input = { "input", "bias" }, Output = { "c" } });
            graph.Initializer.Add(Floats("bias", 1, 1, size, size));
        }
        graph.Node.Add(new NodeProto { OpType = "Relu", Input = { "c" }, Output = { "r" } });
        graph.Node.Add(new NodeProto { OpType = "Flatten", Input = { "r" }, Output = { "logits" } });
        var model = new ModelProto { IrVersion = 8, Graph = graph, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 17 } } };
        string path = File(name);
        System.IO.File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    [Fact]
    public void Convert_to_ort_writes_the_file_and_the_operator_list()
    {
        string model = Model("m.onnx", conv: true);
        var (code, output, error) = CliRunner.Run("convert", model, "--to", "ort", "--out", File("out") + "/");
        Assert.True(code == 0, error);
        Assert.True(System.IO.File.Exists(File("out/m.ort")));
        string config = System.IO.File.ReadAllText(File("out/required_operators.config"));
        Assert.Contains("ai.onnx;17;Flatten", config);
        Assert.Contains("com.microsoft;1;FusedConv", config); // Conv + Relu fused at ORT_ENABLE_EXTENDED
        Assert.Contains("wrote", output);
    }

    [Fact]
    public void Convert_of_several_models_to_ort_writes_one_merged_operator_list()
    {
        string conv = Model("conv.onnx", conv: true), add = Model("add.onnx", conv: false);
        var (code, output, error) = CliRunner.Run("convert", conv, add, "--to", "ort", "--out", File("both") + "/");
        Assert.True(code == 0, error);
        Assert.True(System.IO.File.Exists(File("both/conv.ort")) && System.IO.File.Exists(File("both/add.ort")));
        string config = System.IO.File.ReadAllText(File("both/required_operators.config"));
        // The union: Add (and the Relu it keeps) only from add.onnx, FusedConv only from conv.onnx, Flatten from both, once.
        Assert.Contains("ai.onnx;17;Add,Flatten,Relu\n", config);
        Assert.Contains("com.microsoft;1;FusedConv\n", config);
        Assert.Contains("# - " + File("both/conv.ort"), config);
        Assert.Contains("# - " + File("both/add.ort"), config);
        Assert.Contains("required_operators.config (4 operator(s))", output);
    }

    [Fact]
    public void Convert_to_fp16_halves_the_weights()
    {
        string model = Model("m.onnx", conv: true);
        var (code, output, error) = CliRunner.Run("convert", model, "--to", "fp16", "--keep-io-types", "--out", File("m.fp16.onnx"));
        Assert.True(code == 0, error);
        var written = ModelProto.Parser.ParseFrom(System.IO.File.ReadAllBytes(File("m.fp16.onnx")));
        Assert.All(written.Graph.Initializer, t => Assert.Equal((int)TensorProto.Types.DataType.Float16, t.DataType));
        Assert.Equal(1, written.Graph.Input[0].Type.TensorType.ElemType);
        Assert.Contains("float16:", output);
    }

    [Fact]
    public void An_ort_file_where_onnx_is_needed_is_one_line_and_no_file()
    {
        string model = Model("m.onnx", conv: true);
        Assert.Equal(0, CliRunner.Run("convert", model, "--to", "ort", "--out", File("m.ort")).Code);
        foreach (var args in new[] { new[] { "quantize", File("m.ort"), "--static", "--no-eval", "--out", File("q.onnx") }, ["convert", File("m.ort"), "--to", "fp16", "--out", File("q.onnx")], ["quantize", File("m.ort"), "--out", File("q.onnx")] })
        {
            var (code, _, error) = CliRunner.Run(args);
            Assert.Equal(1, code);
            Assert.Contains("ORT-format", error);
            Assert.Single(error.TrimEnd().Split('\n'));
            Assert.False(System.IO.File.Exists(File("q.onnx")));
        }
    }

    [Fact]
    public void Static_on_a_model_without_conv_or_matmul_is_one_line_and_no_file()
    {
        Requires.FashionMnist();
        string model = Model("add.onnx", conv: false, size: 28);
        var (code, _, error) = CliRunner.Run("quantize", model, "--static", "--calibration-size", "64", "--out", File("q.onnx"));
        Assert.Equal(1, code);
        Assert.Contains("needs Conv, Gemm or MatMul", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.False(System.IO.File.Exists(File("q.onnx")));
    }

    [Fact]
    public void Calibration_data_of_the_wrong_shape_is_one_line_and_no_file()
    {
        Requires.FashionMnist();
        string model = Model("small.onnx", conv: true, size: 12);
        var (code, _, error) = CliRunner.Run("quantize", model, "--static", "--calibration-size", "64", "--out", File("q.onnx"));
        Assert.Equal(1, code);
        Assert.Contains("calibration batch 0 is Float32 [64, 1, 28, 28]; input 'input' takes float [batch, 1, 12, 12]", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.False(System.IO.File.Exists(File("q.onnx")));
    }

    [Fact]
    public void Static_quantization_of_a_fashion_mnist_sized_conv_model_prints_the_layer_report()
    {
        Requires.FashionMnist();
        string model = Model("conv28.onnx", conv: true, size: 28);
        var (code, output, error) = CliRunner.Run("quantize", model, "--static", "--calibration-size", "128", "--method", "percentile", "--out", File("q.onnx"));
        Assert.True(code == 0, error);
        Assert.Contains("static int8 (QDQ): 1 Conv/Gemm/MatMul node(s)", output);
        Assert.Matches(@"conv +Conv +0\.0\d\d\d +\d+\.\d dB", output);
        Assert.True(System.IO.File.Exists(File("q.onnx")));
    }
}
