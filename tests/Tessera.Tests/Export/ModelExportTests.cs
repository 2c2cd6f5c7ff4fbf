using System.Security.Cryptography;
using System.Text.Json;
using Tessera.Export;
using Tessera.Formats.Onnx;
using Tessera.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

using Tessera.Formats;

namespace Tessera.Tests.Export;

/// <summary>Tessera's own models through the exporter, compared with TorchSharp in ONNX Runtime (max abs ≤ 1e-4) and checked by onnx.checker.</summary>
public class ModelExportTests
{
    const double Tolerance = 1e-4;

    [Fact]
    public void Cnn_exports_and_matches_torchsharp()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(1);
        using var model = new Cnn(new CnnConfig { InChannels = 2, ImageSize = 14, Hidden = 16, NumClasses = 5 });
        using var dir = new ExportTempDir();
        AssertExports(model, randn(1, 2, 14, 14), dir);
    }

    [Fact]
    public void Mlp_with_dropout_exports_and_matches_torchsharp()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(2);
        using var model = new Mlp(new MlpConfig { InputSize = 64, HiddenSizes = [32, 16], NumClasses = 4, Dropout = 0.3 });
        using var dir = new ExportTempDir();
        AssertExports(model, randn(1, 1, 8, 8), dir);
    }

    [Fact]
    public void ResNet_with_trained_batchnorm_statistics_exports_with_folded_norms_and_residual_adds()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        using var model = new ResNet(new ResNetConfig { InChannels = 1, Depths = [1, 2], Widths = [4, 8], NumClasses = 3 });
        foreach (var m in model.modules().OfType<BatchNorm>()) EmitterTests.WithStats(m);
        using var dir = new ExportTempDir();
        string path = AssertExports(model, randn(1, 1, 12, 12), dir);
        var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph.Node.Select(n => n.OpType).ToList();
        Assert.DoesNotContain("BatchNormalization", ops);
        Assert.Equal(3, ops.Count(o => o == "Add")); // one residual add per block
        Assert.Equal(1 + 2 * 3 + 1, ops.Count(o => o == "Conv")); // stem, two per block, one downsample
    }

    [Fact]
    public void Export_restores_the_training_flag()
    {
        using var scope = NewDisposeScope();
        using var model = new Mlp(new MlpConfig { InputSize = 6, HiddenSizes = [4], NumClasses = 2 });
        model.train();
        using var dir = new ExportTempDir();
        OnnxExporter.Export(model, randn(1, 6), dir.File("m.onnx"));
        Assert.True(model.training);
    }

    [Fact]
    public void ExportFolder_writes_config_weights_hash_preprocessing_and_labels_into_metadata()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        using var dir = new ExportTempDir();
        string folder = dir.File("model");
        var config = new CnnConfig { ImageSize = 12, Hidden = 8, NumClasses = 3 };
        using (var model = new Cnn(config))
            ModelFolder.Save(folder, config, model, new ImagePreprocessingConfig { Height = 12, Width = 12, Mean = [0.5f], Std = [0.25f] }, ["cat", "dog", "bird"]);

        var report = OnnxExporter.ExportFolder(folder, dir.File("cnn.onnx"));

        Assert.InRange(report.MaxAbsoluteError, 0, Tolerance);
        var meta = ModelProto.Parser.ParseFrom(File.ReadAllBytes(dir.File("cnn.onnx"))).MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")))), meta["tessera.weights_sha256"]);
        Assert.Equal("model.safetensors", meta["tessera.weights_source"]);
        Assert.Equal("cnn", JsonDocument.Parse(meta["tessera.config"]).RootElement.GetProperty("model_type").GetString());
        var pre = JsonDocument.Parse(meta["tessera.preprocessing"]).RootElement;
        Assert.Equal(0.25f, pre.GetProperty("image_std")[0].GetSingle());
        Assert.Equal(12, pre.GetProperty("height").GetInt32());
        var labels = JsonDocument.Parse(meta["tessera.id2label"]).RootElement;
        Assert.Equal("dog", labels.GetProperty("1").GetString());
        Assert.Equal(TesseraInfo.Version, meta["tessera_version"]);
        OnnxChecker.Check(dir.File("cnn.onnx"));
    }

    static string AssertExports(nn.Module<Tensor, Tensor> model, Tensor sample, ExportTempDir dir)
    {
        string path = dir.File("model.onnx");
        var report = OnnxExporter.Export(model, sample, path);
        Assert.InRange(report.MaxAbsoluteError, 0, Tolerance);
        var batch3 = randn([3, .. sample.shape[1..]]);
        Assert.InRange(OrtReference.MaxAbsDiff(path, model, batch3), 0, Tolerance);
        OnnxChecker.Check(path);
        return path;
    }
}
