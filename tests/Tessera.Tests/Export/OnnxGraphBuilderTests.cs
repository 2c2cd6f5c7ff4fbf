using Tessera.Export;
using Tessera.Formats.Onnx;
using static TorchSharp.torch;
using DataType = Tessera.Formats.Onnx.TensorProto.Types.DataType;

namespace Tessera.Tests.Export;

public class OnnxGraphBuilderTests
{
    [Fact]
    public void Value_names_are_unique()
    {
        var b = new OnnxGraphBuilder();
        Assert.Equal("x", b.UniqueName("x"));
        Assert.Equal("x_1", b.UniqueName("x"));
        Assert.Equal("x_2", b.UniqueName("x"));
        Assert.Throws<ArgumentException>(() => b.AddInput("x", DataType.Float, 1));
    }

    [Fact]
    public void Initializers_are_little_endian_raw_data_with_dims()
    {
        using var scope = NewDisposeScope();
        var b = new OnnxGraphBuilder();
        string f = b.AddInitializer("w", tensor(new float[] { 1.5f, -2f, 3f, 0.25f }).reshape(2, 2));
        string l = b.AddInitializer("shape", [0L, -1L, 258L], 3);
        var wf = b.Graph.Initializer.Single(t => t.Name == f);
        Assert.Equal((int)DataType.Float, wf.DataType);
        Assert.Equal([2L, 2], wf.Dims);
        Assert.Equal(new byte[] { 0, 0, 0xC0, 0x3F }, wf.RawData.ToByteArray()[..4]); // 1.5f
        var wl = b.Graph.Initializer.Single(t => t.Name == l);
        Assert.Equal((int)DataType.Int64, wl.DataType);
        Assert.Equal(new byte[] { 2, 1, 0, 0, 0, 0, 0, 0 }, wl.RawData.ToByteArray()[16..]); // 258
    }

    [Fact]
    public void Build_rejects_a_node_reading_an_undefined_value()
    {
        var b = new OnnxGraphBuilder();
        b.AddInput("x", DataType.Float, "batch", 4);
        string y = b.Apply("Add", ["x", "nowhere"]);
        b.AddOutput(y, DataType.Float, "batch", 4);
        var e = Assert.Throws<OnnxExportException>(() => b.Build());
        Assert.Contains("'nowhere'", e.Message);
    }

    [Fact]
    public void Build_writes_ir_8_opset_and_symbolic_dims()
    {
        var b = new OnnxGraphBuilder("g");
        b.AddInput("x", DataType.Float, "batch", 4);
        string y = b.Apply("Relu", ["x"]);
        b.AddOutput(y, DataType.Float, "batch", 4);
        var m = b.Build(new Dictionary<string, string> { ["k"] = "v" });
        Assert.Equal(8, m.IrVersion);
        Assert.Equal(17, m.OpsetImport[0].Version);
        Assert.Equal("tessera", m.ProducerName);
        Assert.Equal("batch", m.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(4, m.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue);
        Assert.Equal("v", m.MetadataProps.Single().Value);
    }
}
