using Tessera.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Tests.Export;

/// <summary>
/// Every built-in emitter: export with the exporter's own check, then run the file in ONNX Runtime directly on a
/// fresh random input with batch size 3 (the sample has batch 1, so the dynamic batch axis is exercised) and
/// compare with TorchSharp (fp32, max abs error ≤ 1e-4); onnx.checker (full_check) must accept the file.
/// </summary>
public class EmitterTests
{
    const double Tolerance = 1e-4;

    public static TheoryData<string> Cases => new()
    {
        "linear-2d", "linear-3d", "linear-nobias", "conv1d", "conv2d-groups-stride-dilation", "conv2d-nobias-same",
        "batchnorm1d-2d", "batchnorm1d-3d", "batchnorm2d", "layernorm", "layernorm-2axes", "embedding",
        "relu", "gelu", "gelu-tanh", "silu", "sigmoid", "tanh", "softmax", "logsoftmax", "dropout",
        "maxpool2d", "maxpool2d-ceil", "avgpool2d", "avgpool2d-pad-exclude", "adaptiveavgpool2d-1", "adaptiveavgpool2d-2",
        "flatten", "flatten-2", "sequential-conv-bn-fold",
    };

    [Trait("Category", "Slow")]
    [Theory]
    [MemberData(nameof(Cases))]
    public void Emitter_matches_torchsharp_in_onnx_runtime_for_batch_1_and_3(string name)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(name.GetHashCode(StringComparison.Ordinal) & 0xffff);
        var (module, sample) = Build(name);
        using var dir = new ExportTempDir();
        string path = dir.File(name + ".onnx");

        var report = OnnxExporter.Export(module, sample, path);

        Assert.True(report.Verified);
        Assert.Equal([1L, 3L], report.VerifiedBatchSizes);
        Assert.InRange(report.MaxAbsoluteError, 0, Tolerance);
        var batch3 = RandomInput(sample, 3);
        Assert.InRange(OrtReference.MaxAbsDiff(path, module, batch3), 0, Tolerance);
        Assert.InRange(OrtReference.MaxAbsDiff(path, module, sample), 0, Tolerance);
        OnnxChecker.Check(path);
    }

    [Fact]
    public void Conv_followed_by_batchnorm_in_a_sequential_is_one_conv_node()
    {
        using var scope = NewDisposeScope();
        var (module, sample) = Build("sequential-conv-bn-fold");
        using var dir = new ExportTempDir();
        OnnxExporter.Export(module, sample, dir.File("m.onnx"));
        var model = Tessera.Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(dir.File("m.onnx")));
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "BatchNormalization");
        Assert.Single(model.Graph.Node, n => n.OpType == "Conv");
    }

    [Fact]
    public void Linear_uses_gemm_for_2d_inputs_and_matmul_otherwise()
    {
        using var scope = NewDisposeScope();
        using var dir = new ExportTempDir();
        var (m2, s2) = Build("linear-2d");
        OnnxExporter.Export(m2, s2, dir.File("a.onnx"));
        var (m3, s3) = Build("linear-3d");
        OnnxExporter.Export(m3, s3, dir.File("b.onnx"));
        Assert.Equal(["Gemm"], Ops(dir.File("a.onnx")));
        Assert.Equal(["MatMul", "Add"], Ops(dir.File("b.onnx")));
    }

    static string[] Ops(string path) =>
        Tessera.Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph.Node.Select(n => n.OpType).ToArray();

    static Tensor RandomInput(Tensor sample, long batch)
    {
        var shape = (long[])sample.shape.Clone();
        shape[0] = batch;
        return sample.dtype == ScalarType.Int64 ? randint(0, 20, shape) : randn(shape);
    }

    /// <summary>The module under test and a batch-1 sample input.</summary>
    internal static (nn.Module<Tensor, Tensor> Module, Tensor Sample) Build(string name) => name switch
    {
        "linear-2d" => (nn.Linear(8, 5), randn(1, 8)),
        "linear-3d" => (nn.Linear(8, 5), randn(1, 4, 8)),
        "linear-nobias" => (nn.Linear(8, 5, hasBias: false), randn(1, 8)),
        "conv1d" => (nn.Conv1d(4, 6, 3, stride: 2, padding: 1), randn(1, 4, 20)),
        "conv2d-groups-stride-dilation" => (nn.Conv2d(4, 6, 3, stride: 2, padding: 2, dilation: 2, groups: 2), randn(1, 4, 13, 11)),
        "conv2d-nobias-same" => (nn.Conv2d(3, 5, 4, padding: Padding.Same, bias: false), randn(1, 3, 9, 9)),
        "batchnorm1d-2d" => (WithStats(nn.BatchNorm1d(6)), randn(1, 6)),
        "batchnorm1d-3d" => (WithStats(nn.BatchNorm1d(6)), randn(1, 6, 10)),
        "batchnorm2d" => (WithStats(nn.BatchNorm2d(6)), randn(1, 6, 5, 7)),
        "layernorm" => (RandomAffine(nn.LayerNorm(8)), randn(1, 5, 8)),
        "layernorm-2axes" => (RandomAffine(nn.LayerNorm([5, 8], eps: 1e-3)), randn(1, 5, 8)),
        "embedding" => (nn.Embedding(20, 8), randint(0, 20, [1, 7])),
        "relu" => (nn.ReLU(), randn(1, 3, 4)),
        "gelu" => (nn.GELU(), 3 * randn(1, 3, 4)),
        "gelu-tanh" => (nn.GELU(GELU.Approximate.tanh), 3 * randn(1, 3, 4)),
        "silu" => (nn.SiLU(), 3 * randn(1, 3, 4)),
        "sigmoid" => (nn.Sigmoid(), 3 * randn(1, 3, 4)),
        "tanh" => (nn.Tanh(), randn(1, 3, 4)),
        "softmax" => (nn.Softmax(1), randn(1, 3, 4)),
        "logsoftmax" => (nn.LogSoftmax(-1), randn(1, 3, 4)),
        "dropout" => (nn.Dropout(0.5), randn(1, 3, 4)),
        "maxpool2d" => (nn.MaxPool2d(3, stride: 2, padding: 1), randn(1, 2, 9, 8)),
        "maxpool2d-ceil" => (nn.MaxPool2d(2, ceil_mode: true), randn(1, 2, 7, 7)),
        "avgpool2d" => (nn.AvgPool2d(2), randn(1, 2, 8, 6)),
        "avgpool2d-pad-exclude" => (nn.AvgPool2d(3, stride: 2, padding: 1, count_include_pad: false), randn(1, 2, 9, 8)),
        "adaptiveavgpool2d-1" => (nn.AdaptiveAvgPool2d(1), randn(1, 3, 7, 5)),
        "adaptiveavgpool2d-2" => (nn.AdaptiveAvgPool2d(2), randn(1, 3, 8, 6)),
        "flatten" => (nn.Flatten(), randn(1, 3, 4, 5)),
        "flatten-2" => (nn.Flatten(2), randn(1, 3, 4, 5)),
        "sequential-conv-bn-fold" => (nn.Sequential(
            ("conv", nn.Conv2d(3, 4, 3, padding: 1)), ("bn", WithStats(nn.BatchNorm2d(4))), ("act", nn.ReLU()),
            ("flat", nn.Flatten()), ("fc", nn.Linear(4 * 6 * 6, 3))), randn(1, 3, 6, 6)),
        _ => throw new ArgumentException(name),
    };

    /// <summary>BatchNorm with non-trivial running statistics and affine parameters, as after training.</summary>
    internal static BatchNorm WithStats(BatchNorm bn)
    {
        using var noGrad = no_grad();
        long c = bn.num_features;
        bn.running_mean!.copy_(randn(c));
        bn.running_var!.copy_(rand(c) + 0.5);
        bn.weight!.copy_(randn(c));
        bn.bias!.copy_(randn(c));
        bn.eval();
        return bn;
    }

    static LayerNorm RandomAffine(LayerNorm ln)
    {
        using var noGrad = no_grad();
        ln.weight!.copy_(randn(ln.weight.shape));
        ln.bias!.copy_(randn(ln.bias.shape));
        return ln;
    }
}
