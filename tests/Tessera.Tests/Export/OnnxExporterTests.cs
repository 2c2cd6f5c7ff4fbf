using System.Text;
using Google.Protobuf;
using Tessera.Export;
using Tessera.Formats.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Tests.Export;

/// <summary>Exporter behaviour: custom emitters, errors with module paths, atomic writes, metadata, dynamic axes, external data.</summary>
public class OnnxExporterTests
{
    /// <summary>A user module that writes its own graph: <c>x + scale · proj(x)</c>.</summary>
    sealed class ScaledResidual : nn.Module<Tensor, Tensor>, IOnnxEmitter
    {
        readonly Linear proj;
        readonly Parameter scale;

        public ScaledResidual(int width) : base(nameof(ScaledResidual))
        {
            proj = nn.Linear(width, width);
            scale = nn.Parameter(randn(width));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => x + scale * proj.call(x);

        public string EmitOnnx(OnnxExportContext context, string input)
        {
            string y = context.EmitModule(proj, input, "proj");
            string scaled = context.Binary("Mul", y, context.AddInitializer("scale", scale));
            return context.Binary("Add", input, scaled);
        }
    }

    /// <summary>A module with no emitter.</summary>
    sealed class MyAttention() : nn.Module<Tensor, Tensor>(nameof(MyAttention))
    {
        public override Tensor forward(Tensor x) => x.softmax(-1);
    }

    /// <summary>A module whose emitter is wrong (Relu instead of its Sigmoid), so verification must fail.</summary>
    sealed class LyingModule() : nn.Module<Tensor, Tensor>(nameof(LyingModule)), IOnnxEmitter
    {
        public override Tensor forward(Tensor x) => x.sigmoid();

        public string EmitOnnx(OnnxExportContext context, string input) => context.Unary("Relu", input);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Custom_emitter_module_exports_inside_a_sequential_with_path_named_weights()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        using var model = nn.Sequential(("inp", nn.Linear(4, 6)), ("block", new ScaledResidual(6)), ("act", nn.GELU()));
        using var dir = new ExportTempDir();
        string path = dir.File("custom.onnx");

        var report = OnnxExporter.Export(model, randn(1, 4), path);

        Assert.InRange(report.MaxAbsoluteError, 0, 1e-4);
        Assert.InRange(OrtReference.MaxAbsDiff(path, model, randn(3, 4)), 0, 1e-4);
        var names = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph.Initializer.Select(i => i.Name).ToList();
        Assert.Contains("block.proj.weight", names);
        Assert.Contains("block.scale", names);
        OnnxChecker.Check(path);
    }

    [Fact]
    public void Module_registered_in_a_registry_is_exported_with_that_emitter()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        var registry = OnnxEmitterRegistry.CreateDefault()
            .Register<MyAttention>((ctx, _, x) => ctx.Unary("Softmax", x, OnnxGraphBuilder.Attr("axis", -1L)));
        using var model = nn.Sequential(("attn", new MyAttention()));
        var report = OnnxExporter.Export(model, randn(1, 2, 5), dir.File("m.onnx"), new OnnxExportOptions { Emitters = registry });
        Assert.InRange(report.MaxAbsoluteError, 0, 1e-4);
        OnnxChecker.Check(dir.File("m.onnx"));
    }

    [Fact]
    public void Unsupported_module_error_names_its_path_and_type_and_writes_nothing()
    {
        using var scope = NewDisposeScope();
        using var model = nn.Sequential(("encoder", nn.Sequential(("blocks", nn.Sequential(
            ("0", nn.ReLU()), ("1", nn.ReLU()), ("2", nn.ReLU()), ("3", nn.Sequential(("attn", new MyAttention()))))))));
        using var dir = new ExportTempDir();

        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, randn(1, 4), dir.File("m.onnx")));

        Assert.StartsWith("encoder.blocks.3.attn: MyAttention has no ONNX emitter", e.Message);
        Assert.Equal("encoder.blocks.3.attn", e.ModulePath);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Failed_verification_leaves_no_file_and_keeps_an_existing_file_intact()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        string path = dir.File("m.onnx");
        using var model = new LyingModule();

        var fresh = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, randn(1, 8), path));
        Assert.Contains("differs from TorchSharp", fresh.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));

        File.WriteAllText(path, "previous model");
        Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, randn(1, 8), path));
        Assert.Equal("previous model", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Successful_export_replaces_an_existing_file()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        string path = dir.File("m.onnx");
        File.WriteAllText(path, "previous model");
        OnnxExporter.Export(nn.Sequential(("fc", nn.Linear(3, 2))), randn(1, 3), path);
        Assert.Equal("tessera", ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).ProducerName);
        Assert.Equal([path], Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Model_has_producer_versions_dynamic_batch_and_metadata_props()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        string path = dir.File("m.onnx");
        var options = new OnnxExportOptions { InputName = "pixels", OutputName = "logits", Metadata = new Dictionary<string, string> { ["author"] = "tests" } };
        var report = OnnxExporter.Export(nn.Sequential(("fc", nn.Linear(3, 2))), randn(1, 3), path, options);

        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.Equal("tessera", model.ProducerName);
        Assert.Equal(8, model.IrVersion);
        Assert.Equal(17, model.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.Equal("pixels", model.Graph.Input.Single().Name);
        Assert.Equal("logits", model.Graph.Output.Single().Name);
        Assert.Equal(["batch", "3"], model.Graph.Input[0].Type.TensorType.Shape.Dim.Select(d => d.DimParam.Length > 0 ? d.DimParam : d.DimValue.ToString()));
        Assert.Equal(["batch", "2"], model.Graph.Output[0].Type.TensorType.Shape.Dim.Select(d => d.DimParam.Length > 0 ? d.DimParam : d.DimValue.ToString()));
        var meta = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(TesseraInfo.Version, meta["tessera_version"]);
        Assert.Equal("tests", meta["author"]);
        Assert.Equal("initializers", meta["tessera.weights_source"]);
        Assert.Equal(IndependentInitializerHash(model), meta["tessera.weights_sha256"]);
        Assert.Equal(meta, report.Metadata);
        Assert.Equal(["pixels"], report.InputNames);
        Assert.Equal(["logits"], report.OutputNames);
    }

    [Fact]
    public void Named_dynamic_axes_accept_other_image_sizes()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(6);
        using var model = nn.Sequential(("conv", nn.Conv2d(3, 4, 3, padding: 1)), ("act", nn.ReLU()),
            ("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", nn.Linear(4, 2)));
        using var dir = new ExportTempDir();
        string path = dir.File("m.onnx");
        var options = new OnnxExportOptions { DynamicAxes = new() { ["input"] = new() { [2] = "height", [3] = "width" } } };

        OnnxExporter.Export(model, randn(1, 3, 8, 8), path, options);

        var dims = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph.Input[0].Type.TensorType.Shape.Dim;
        Assert.Equal(["batch", "", "height", "width"], dims.Select(d => d.DimParam));
        Assert.InRange(OrtReference.MaxAbsDiff(path, model, randn(2, 3, 11, 6)), 0, 1e-4);
        OnnxChecker.Check(path);
    }

    [Fact]
    public void Dynamic_axes_naming_an_unknown_value_are_rejected()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        var options = new OnnxExportOptions { DynamicAxes = new() { ["pixels"] = new() { [1] = "n" } } };
        var e = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(nn.Sequential(("fc", nn.Linear(3, 2))), randn(1, 3), dir.File("m.onnx"), options));
        Assert.Contains("pixels", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void External_data_puts_weights_beside_the_model_with_offsets_and_lengths()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        using var model = nn.Sequential(("fc1", nn.Linear(16, 32)), ("act", nn.ReLU()), ("fc2", nn.Linear(32, 4)));
        using var dir = new ExportTempDir();
        string path = dir.File("big.onnx");

        var report = OnnxExporter.Export(model, randn(1, 16), path, new OnnxExportOptions { ExternalData = true });

        Assert.Equal(path + ".data", report.ExternalDataPath);
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        byte[] data = File.ReadAllBytes(path + ".data");
        Assert.Contains(proto.Graph.Initializer, t => t.Name == "fc1.weight" && t.DataLocation == TensorProto.Types.DataLocation.External);
        foreach (var t in proto.Graph.Initializer)
        {
            long bytes = t.Dims.Aggregate(4L, (a, b) => a * b);
            if (bytes < OnnxExternalData.InlineBelowBytes)
            {
                // Small tensors (here the biases) stay inline, where ONNX Runtime's shape inference can read them.
                Assert.NotEqual(TensorProto.Types.DataLocation.External, t.DataLocation);
                continue;
            }
            Assert.Equal(TensorProto.Types.DataLocation.External, t.DataLocation);
            Assert.True(t.RawData.IsEmpty);
            var entries = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.Equal("big.onnx.data", entries["location"]);
            int offset = int.Parse(entries["offset"]), length = int.Parse(entries["length"]);
            Assert.Equal(bytes, length);
            if (t.Name == "fc1.weight")
            {
                float[] stored = new float[16 * 32];
                Buffer.BlockCopy(data, offset, stored, 0, length);
                var weight = ((Linear)model[0]).weight!.data<float>().ToArray();
                Assert.Equal(weight, stored);
            }
        }
        Assert.InRange(OrtReference.MaxAbsDiff(path, model, randn(3, 16)), 0, 1e-4);
        OnnxChecker.Check(path);
    }

    [Fact]
    public void External_data_is_chosen_automatically_above_the_threshold()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        using var model = nn.Sequential(("fc", nn.Linear(16, 8)));
        var small = OnnxExporter.Export(model, randn(1, 16), dir.File("a.onnx"));
        var large = OnnxExporter.Export(model, randn(1, 16), dir.File("b.onnx"), new OnnxExportOptions { ExternalDataThreshold = 100 });
        Assert.Null(small.ExternalDataPath);
        Assert.False(File.Exists(dir.File("a.onnx.data")));
        Assert.True(File.Exists(large.ExternalDataPath));
        Assert.Equal(16 * 8 * 4 + 8 * 4, large.InitializerBytes);
    }

    [Fact]
    public void Adaptive_pool_to_a_size_that_does_not_divide_the_input_names_the_module()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        using var model = nn.Sequential(("features", nn.Sequential(("pool", nn.AdaptiveAvgPool2d(3)))));
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, randn(1, 2, 8, 8), dir.File("m.onnx")));
        Assert.StartsWith("features.pool: AdaptiveAvgPool2d from 8x8 to 3x3", e.Message);
    }

    [Fact]
    public void Node_names_carry_the_module_path()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        using var model = nn.Sequential(("encoder", nn.Sequential(("fc", nn.Linear(3, 3)), ("act", nn.ReLU()))));
        OnnxExporter.Export(model, randn(1, 3), dir.File("m.onnx"));
        var names = ModelProto.Parser.ParseFrom(File.ReadAllBytes(dir.File("m.onnx"))).Graph.Node.Select(n => n.Name);
        Assert.Equal(["encoder.fc/Gemm_0", "encoder.act/Relu_0"], names);
    }

    [Fact]
    public void Verify_false_skips_onnx_runtime()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        var report = OnnxExporter.Export(new LyingModule(), randn(1, 3), dir.File("m.onnx"), new OnnxExportOptions { Verify = false });
        Assert.False(report.Verified);
        Assert.True(double.IsNaN(report.MaxAbsoluteError));
        Assert.True(File.Exists(dir.File("m.onnx")));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Onnx_checker_harness_rejects_a_broken_graph()
    {
        // Guards the checker tests themselves: an operator the default domain lacks, and an output declared with a
        // type the graph cannot produce, must both be rejected.
        using var dir = new ExportTempDir();
        var b = new OnnxGraphBuilder();
        b.AddInput("x", TensorProto.Types.DataType.Float, "batch", 4);
        string y = b.Apply("Relu", ["x"], "y");
        b.AddOutput(y, TensorProto.Types.DataType.Int64, "batch", 4);
        File.WriteAllBytes(dir.File("bad.onnx"), b.Build().ToByteArray());
        var result = OnnxChecker.TryCheck(dir.File("bad.onnx"));
        Assert.False(result.Ok, result.Output);

        var c = new OnnxGraphBuilder();
        c.AddInput("x", TensorProto.Types.DataType.Float, "batch", 4);
        string z = c.Apply("NotAnOnnxOp", ["x"], "z");
        c.AddOutput(z, TensorProto.Types.DataType.Float, "batch", 4);
        File.WriteAllBytes(dir.File("bad2.onnx"), c.Build().ToByteArray());
        Assert.False(OnnxChecker.TryCheck(dir.File("bad2.onnx")).Ok);
    }

    static string IndependentInitializerHash(ModelProto model)
    {
        using var sha = System.Security.Cryptography.SHA256.Create();
        using var ms = new MemoryStream();
        foreach (var t in model.Graph.Initializer)
        {
            ms.Write(Encoding.UTF8.GetBytes(t.Name + "\0"));
            ms.Write(t.RawData.ToByteArray());
        }
        return Convert.ToHexStringLower(sha.ComputeHash(ms.ToArray()));
    }
}
